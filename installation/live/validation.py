"""Checking a candidate checkpoint away from the render thread, then warming it.

Three stages, each raising CheckpointError with a reason an operator can read:

1. `read_whole`: the card parses and the weights' sha256 matches it. Failing here usually
   means "not whole yet" (still being copied, or a writer between its two atomic replaces),
   so the caller waits and rejects only once it has stayed that way (a truncated file).
2. `validate`: `load_checkpoint` (card schema, keys, shapes, finite weights, a finite test
   forward; safetensors only, so a pickle in disguise fails to parse and is never run), plus
   the collapse check: pictures for different latents must not all be the same.
3. `warm`: move the model to the show's device and precision (`FrameRenderer.prepare`) and
   decode one frame there, which must be finite too: fp16 can overflow where fp32 did not,
   and the first decode on a device pays for allocations the render thread should not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch

from installation.checkpoints import (
    WEIGHTS_FILE,
    CheckpointError,
    LoadedModel,
    ModelCard,
    check_forward,
    load_checkpoint,
    read_card,
)
from installation.frame_quality import measure

# Latents decoded by the collapse check: enough that "all the same" is not luck.
COLLAPSE_BATCH = 8


class NotWhole(CheckpointError):
    """The folder's files do not (yet) form a whole checkpoint: unreadable card or a hash
    that does not match. Transient while a copy is in flight; final if it stays so."""


def read_whole(folder: Path) -> ModelCard:
    """The card, once the weights on disk are exactly the ones it describes."""
    try:
        card = read_card(folder)
    except CheckpointError as exc:
        raise NotWhole(str(exc)) from None
    digest = hashlib.sha256()
    try:
        with open(Path(folder) / WEIGHTS_FILE, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise NotWhole(f"{folder / WEIGHTS_FILE} is not readable ({exc})") from None
    if digest.hexdigest() != card.sha256:
        raise NotWhole(
            f"{folder / WEIGHTS_FILE}: sha256 does not match card.json "
            "(truncated, or not the file the card describes)"
        )
    return card


def diversity(images: torch.Tensor) -> float:
    """Mean per-pixel standard deviation across a batch of [-1, 1] images, in gray levels
    (0..255): 0 means every latent gives the same picture."""
    return float(images.float().std(dim=0, unbiased=False).mean()) * 127.5


def check_collapse(module: torch.nn.Module, latent_dim: int, min_gray: float) -> float:
    """Refuse pictures not worth a swap: the same for every latent, or mostly flat or
    near-identical noise (frame_quality says how each frame is judged)."""
    images = check_forward(module, latent_dim, batch=COLLAPSE_BATCH)
    spread = diversity(images)
    if spread < min_gray:
        raise CheckpointError(
            f"collapsed: {COLLAPSE_BATCH} different latents give the same picture "
            f"(they differ by {spread:.2f} gray levels on average, at least {min_gray:g} needed)"
        )
    problem = measure(images).problem()
    if problem is not None:
        raise CheckpointError(f"not worth showing: {problem}")
    return spread


def validate(folder: Path, min_diversity: float = 1.0) -> LoadedModel:
    """Load `folder` on the CPU with every check, plus the collapse check."""
    model = load_checkpoint(folder, "cpu")
    if model.latent_dim == 0:
        raise CheckpointError(f"{folder} holds an upscaler ({model.card.architecture}), not a generator: "
                              "it belongs under display.upscale")
    check_collapse(model.module, model.latent_dim, min_diversity)
    return model


def warm(model: LoadedModel, prepare: Callable[[LoadedModel], LoadedModel] | None) -> LoadedModel:
    """Move to the show's device and precision and decode one frame there."""
    if prepare is not None:
        model = prepare(model)
    param = next(model.module.parameters())
    z = torch.randn(1, model.latent_dim, generator=torch.Generator().manual_seed(99))
    with torch.inference_mode():
        out = model.module.decode(z.to(param.device, param.dtype))
        finite = bool(torch.isfinite(out).all())  # .item() also waits for an async device
    if not finite:
        raise CheckpointError(f"decoding at {param.dtype} on {param.device} gives NaN or infinite pixels")
    return model
