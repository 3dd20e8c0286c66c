"""Directions in latent space, the GANSpace idea (Härkönen et al., 2020): principal
components of a generator's early activations over many sampled latents, carried back to
the latent by a least-squares regression, so pushing a latent along direction k moves the
early features along their k-th principal axis.

The early layer is the generator's `stem` (DCGAN, the VAE's decoder, the few-shot GAN), or
its `mapping` network's output (StyleGAN's w: PCA in w-space; such a direction is then
regressed back to z, which keeps the show's one latent interface). Without either, the
first child module.

Computed once per model (`installation directions MODEL`, with a progress bar) and cached
beside it as directions.safetensors with the weights' SHA-256: a retrained model gets new
directions, a stale file is ignored with a note.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from torch import nn

from installation.files import WEIGHTS_FILE
from installation.training.progress import Progress

log = logging.getLogger(__name__)

CACHE_FILE = "directions.safetensors"
K = 8  # the registry's direction.1 .. direction.8


@dataclass(frozen=True)
class Directions:
    vectors: np.ndarray  # [k, latent_dim], unit length
    sigma: np.ndarray  # [k], the spread of the samples along each, in latent units
    explained: np.ndarray  # [k], fraction of the early activations' variance
    layer: str
    # The principal axes in the early layer's (flattened) activation space; only right after
    # computing (not cached): tests check that direction k moves the activations along axis k.
    axes: np.ndarray | None = None

    def offset(self, amounts: np.ndarray) -> np.ndarray:
        """The latent offset for `amounts` (in sigmas) along each direction."""
        return ((amounts * self.sigma)[:, None] * self.vectors).sum(axis=0).astype(np.float32)


def weights_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    with (folder / WEIGHTS_FILE).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def early_layer(module: nn.Module) -> tuple[str, nn.Module]:
    named = list(module.named_modules())
    for suffix in ("mapping", "stem"):
        for name, sub in named:
            if name.split(".")[-1] == suffix:
                return name, sub
    children = list(module.named_children())
    if not children:
        raise ValueError("the generator has no layers to take activations from")
    return children[0]


@torch.no_grad()
def compute_directions(
    module: nn.Module,
    latent_dim: int,
    samples: int = 4096,
    k: int = K,
    seed: int = 0,
    batch: int = 256,
    progress: bool = True,
) -> Directions:
    name, layer = early_layer(module)
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(
        lambda _m, _i, out: captured.append(out.flatten(1).double().cpu())
    )
    gen = torch.Generator().manual_seed(seed)
    zs = torch.randn(samples, latent_dim, generator=gen)
    device = next(module.parameters()).device
    dtype = next(module.parameters()).dtype
    bar = Progress(samples, desc="directions", unit="sample", enabled=progress)
    try:
        module.eval()
        for start in range(0, samples, batch):
            module.decode(zs[start : start + batch].to(device, dtype))
            bar.update(min(samples, start + batch))
    finally:
        handle.remove()
        bar.close()
    acts = torch.cat(captured)
    acts -= acts.mean(0)
    k = min(k, latent_dim, samples - 1)
    # The top-k principal axes by a randomized SVD (seeded: the same directions every time);
    # a full SVD of 4096 x 2048 activations took 80 s on two cores, this under a second.
    with torch.random.fork_rng():  # seeded without touching the caller's generator
        torch.manual_seed(seed)
        _, s, v = torch.svd_lowrank(acts, q=min(k + 16, min(acts.shape)), niter=6)
    vh = v.T
    coords = acts @ vh[:k].T  # [N, k]
    explained = (s[:k] ** 2 / acts.pow(2).sum()).numpy()
    z = zs.double()
    # z ~= coords @ W: the latent move that goes with one unit of each principal coordinate.
    w = torch.linalg.lstsq(coords, z - z.mean(0)).solution  # [k, latent_dim]
    norms = w.norm(dim=1, keepdim=True).clamp_min(1e-12)
    vectors = (w / norms).numpy().astype(np.float32)
    sigma = (coords.std(0) * norms[:, 0]).numpy().astype(np.float32)
    axes = vh[:k].numpy().astype(np.float32)
    return Directions(vectors, sigma, explained.astype(np.float32), name, axes)


def save_directions(folder: Path, d: Directions) -> Path:
    path = folder / CACHE_FILE
    tmp = folder / f".{CACHE_FILE}.tmp"
    # Contiguous copies: safetensors writes a strided array's buffer as if it were not.
    arrays = {"vectors": d.vectors, "sigma": d.sigma, "explained": d.explained}
    save_file(
        {key: np.ascontiguousarray(value) for key, value in arrays.items()},
        str(tmp),
        metadata={"layer": d.layer, "weights_sha256": weights_hash(folder)},
    )
    tmp.replace(path)
    return path


def load_directions(folder: Path, latent_dim: int) -> tuple[Directions | None, str]:
    """(directions, why not): the cache if it is there, of this size and of these weights."""
    path = folder / CACHE_FILE
    if not path.exists():
        return None, f"no directions yet: installation directions {folder}"
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
        arrays = load_file(str(path))
        vectors, sigma, explained = arrays["vectors"], arrays["sigma"], arrays["explained"]
    except (OSError, KeyError, ValueError) as exc:
        return None, f"{path}: unreadable ({exc}); run installation directions again"
    if vectors.ndim != 2 or vectors.shape[1] != latent_dim or sigma.shape != (vectors.shape[0],):
        return None, f"{path}: made for latents of another size"
    if meta.get("weights_sha256") != weights_hash(folder):
        return (
            None,
            f"{path}: made for other weights (retrained?); run installation directions again",
        )
    if not (np.isfinite(vectors).all() and np.isfinite(sigma).all()):
        return None, f"{path}: not finite"
    return Directions(vectors, sigma, explained, meta.get("layer", "")), ""
