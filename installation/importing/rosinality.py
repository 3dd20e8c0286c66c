"""rosinality/stylegan2-pytorch checkpoints (`.pt`): torch.load(weights_only=True) only.

Its train.py saves {g, d, g_ema, g_optim, d_optim, args, ada_aug_p}; convert_weight.py adds
`latent_avg`. The generator is the same network as StyleGAN2 config F (skip generator, no
conv clamp) under other names, so its state dict is renamed into the package's layout and
the config is read off the tensor shapes. Without `latent_avg`, w_avg (the centre of
truncation) is estimated from 10,000 fixed latents after loading.
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
import re
from typing import Any

import torch

from installation.importing.imported import Imported
from installation.importing.safe_pickle import RefusedPickle, weights_only_reason
from installation.networks.stylegan_layers import binomial_filter

W_AVG_SAMPLES = 10_000


def _load(data: bytes) -> Any:
    # argparse.Namespace holds train.py's options: plain attributes, safe to rebuild.
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RefusedPickle(
            f"the torch file holds more than tensors and options ({weights_only_reason(exc)})"
        ) from None
    except Exception as exc:  # torch raises RuntimeError/EOFError/zip errors for damaged files
        raise RefusedPickle(
            f"the torch file is truncated or damaged ({type(exc).__name__}: {exc})"
        ) from None


def _width_formula(widths: dict[int, int]) -> tuple[int, int]:
    """channel_base and channel_max with min(base // res, max) == widths[res] for every res."""
    cmax = max(widths.values())
    below = [w * r for r, w in widths.items() if w < cmax]
    base = max(below) if below else cmax * max(widths)
    if any(min(base // r, cmax) != w for r, w in widths.items()):
        raise RefusedPickle(f"channel widths {widths} follow no StyleGAN2 channel formula")
    return base, cmax


def _rename(
    sd: dict[str, torch.Tensor], log_size: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    out: dict[str, torch.Tensor] = {}
    kernels: dict[str, torch.Tensor] = {}

    def styled(src: str, dst: str, noise: str) -> None:
        out[f"{dst}.weight"] = sd[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        out[f"{dst}.noise_strength"] = sd[f"{src}.noise.weight"].reshape(())
        out[f"{dst}.bias"] = sd[f"{src}.activate.bias"]
        out[f"{dst}.noise_const"] = sd[f"noises.{noise}"][0, 0]

    def torgb(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = sd[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(-1)

    out["synthesis.b4.const"] = sd["input.input"][0]
    styled("conv1", "synthesis.b4.conv1", "noise_0")
    torgb("to_rgb1", "synthesis.b4.torgb")
    for j in range(log_size - 2):
        res = 2 ** (j + 3)
        styled(f"convs.{2 * j}", f"synthesis.b{res}.conv0", f"noise_{2 * j + 1}")
        styled(f"convs.{2 * j + 1}", f"synthesis.b{res}.conv1", f"noise_{2 * j + 2}")
        torgb(f"to_rgbs.{j}", f"synthesis.b{res}.torgb")
        kernels[f"convs.{2 * j}.conv.blur.kernel"] = sd.get(f"convs.{2 * j}.conv.blur.kernel")
        kernels[f"to_rgbs.{j}.upsample.kernel"] = sd.get(f"to_rgbs.{j}.upsample.kernel")
    return out, kernels


def read_rosinality(data: bytes) -> Imported:

    ckpt = _load(data)
    if not isinstance(ckpt, dict):
        raise RefusedPickle(f"the torch file holds a {type(ckpt).__name__}, not a checkpoint dict")
    key = (
        "g_ema"
        if isinstance(ckpt.get("g_ema"), dict)
        else "g"
        if isinstance(ckpt.get("g"), dict)
        else None
    )
    if key is None:
        raise RefusedPickle(
            f"the torch file holds no generator (no g_ema or g; it has {', '.join(map(str, ckpt))})"
        )
    sd = ckpt[key]
    if not all(isinstance(v, torch.Tensor) for v in sd.values()) or "input.input" not in sd:
        raise RefusedPickle(
            "the generator state dict is not a rosinality StyleGAN2 generator (no input.input)"
        )
    n_mlp = sum(1 for k in sd if re.fullmatch(r"style\.\d+\.weight", k))
    n_rgbs = sum(1 for k in sd if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k))
    log_size = n_rgbs + 2
    try:
        w_dim, z_dim = sd["style.1.weight"].shape
        widths = {4: sd["input.input"].shape[1]}
        widths.update(
            {2 ** (j + 3): sd[f"convs.{2 * j}.conv.weight"].shape[1] for j in range(n_rgbs)}
        )
        tensors, kernels = _rename(sd, log_size)
        for i in range(n_mlp):
            tensors[f"mapping.fc{i}.weight"] = sd[f"style.{i + 1}.weight"]
            tensors[f"mapping.fc{i}.bias"] = sd[f"style.{i + 1}.bias"]
    except (KeyError, IndexError, ValueError) as exc:
        raise RefusedPickle(
            f"the generator state dict misses a rosinality StyleGAN2 tensor ({exc})"
        ) from None
    blur = binomial_filter() * 4
    for name, kernel in kernels.items():
        if (
            kernel is None
            or kernel.shape != blur.shape
            or not torch.allclose(kernel.float(), blur, atol=1e-5)
        ):
            raise RefusedPickle(
                f"filter {name} differs from StyleGAN2's [1,3,3,1] (a variant not reproduced here)"
            )
    base, cmax = _width_formula(widths)
    notes = [f"generator {key} of a rosinality stylegan2-pytorch checkpoint"]
    latent_avg = ckpt.get("latent_avg")
    has_avg = isinstance(latent_avg, torch.Tensor) and latent_avg.numel() == w_dim
    if has_avg:
        tensors["mapping.w_avg"] = latent_avg.reshape(w_dim).float()
    else:
        tensors["mapping.w_avg"] = torch.zeros(w_dim)
        notes.append(
            f"w_avg estimated from {W_AVG_SAMPLES:,} latents (the checkpoint has no latent_avg)"
        )
    config = dict(
        z_dim=int(z_dim),
        w_dim=int(w_dim),
        resolution=2**log_size,
        channels=int(sd["to_rgb1.conv.weight"].shape[1]),
        channel_base=base,
        channel_max=cmax,
        mapping_layers=n_mlp,
        mapping_lr=0.01,
        conv_clamp=None,
    )
    if not math.log2(config["resolution"]).is_integer():
        raise RefusedPickle("the generator's resolution is not a power of two")
    return Imported(
        "stylegan2", config, tensors, "rosinality-pt", notes=notes, estimate_w_avg=not has_avg
    )
