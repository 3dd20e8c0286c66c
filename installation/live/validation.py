"""Checking a candidate checkpoint away from the render thread, reading it only once.

On its way from disk to screen a checkpoint is read once, hashed once and test-decoded once:

1. `read_whole`: the card parses, and the weights file, read into memory, has the card's
   sha256. Failing here usually means "not whole yet" (still being copied, or a writer
   between its two atomic replaces), so the caller waits and rejects only once it has
   stayed that way (a truncated file).
2. `validate`: from those bytes, the model (safetensors only, so a pickle in disguise fails
   to parse and is never run; card schema, keys, shapes, finite weights), moved to the
   show's device and precision (`FrameRenderer.prepare`), then one test decode there: its
   pixels must be finite (fp16 can overflow where fp32 did not) and pictures for different
   latents must not all be the same (a collapsed generator). That decode is also the warm-up
   the render thread should not pay for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from installation.checkpoints import (
    CheckpointError,
    LoadedModel,
    ModelCard,
    build_checkpoint,
    check_forward,
    read_card,
    read_weights,
)
from installation.frame_quality import measure

# Latents decoded by the collapse check: enough that "all the same" is not luck.
COLLAPSE_BATCH = 8


class NotWhole(CheckpointError):
    """The folder's files do not (yet) form a whole checkpoint: unreadable card or a hash
    that does not match. Transient while a copy is in flight; final if it stays so."""


@dataclass(frozen=True)
class Whole:
    """A card and the weights' bytes it describes (hash checked), read once."""

    folder: Path
    card: ModelCard
    data: bytes


def read_whole(folder: Path) -> Whole:
    """The card and the weights, once the weights on disk are exactly the ones it describes."""
    folder = Path(folder)
    try:
        card = read_card(folder)
        return Whole(folder, card, read_weights(folder, card))
    except NotWhole:
        raise
    except CheckpointError as exc:
        raise NotWhole(str(exc)) from None


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


def validate(
    source: Path | Whole,
    min_diversity: float = 1.0,
    prepare: Callable[[LoadedModel], LoadedModel] | None = None,
) -> LoadedModel:
    """A checked model on the show's device and precision (`prepare`), from a folder or
    from what `read_whole` already read; raises CheckpointError with the reason."""
    whole = source if isinstance(source, Whole) else read_whole(Path(source))
    model = build_checkpoint(whole.folder, whole.card, whole.data, "cpu")
    if model.latent_dim == 0:
        raise CheckpointError(
            f"{whole.folder} holds an upscaler ({model.card.architecture}), not a generator: "
            "it belongs under display.upscale"
        )
    if prepare is not None:
        model = prepare(model)
    check_collapse(model.module, model.latent_dim, min_diversity)  # the one test decode
    return model
