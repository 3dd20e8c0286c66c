"""`display.upscale: {model: models/NAME-sr}`: a learned upscaler between generator and display.

The generator draws at its own size (256 px), the upscaler (networks/sr.py) doubles or
quadruples it on the same device, and only then does the display scale the result to the
window with its filter. It is loaded and checked like any model (safetensors, hash, shapes,
a finite test forward) before the show starts, and refused, with the reason, when it cannot
help this show: not an upscaler, the wrong number of channels, or a scale whose output is
larger than the window needs (the extra pixels would be computed and thrown away).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from installation.checkpoints import CheckpointError, LoadedModel, load_checkpoint


class UpscaleError(Exception):
    """An upscaler this show cannot use; the message says why."""


def needed_size(output: tuple[int, int], fit: str) -> int:
    """The square size at which a frame fills the window without upscaling: cover and
    stretch must reach the long side, contain only the short side."""
    return min(output) if fit == "contain" else max(output)


def check_fit(
    sr_card_arch: str,
    scale: int,
    sr_channels: int,
    model_resolution: int,
    model_channels: int,
    output: tuple[int, int],
    fit: str,
) -> None:
    """Raise UpscaleError unless this upscaler suits this generator and window."""
    if sr_card_arch != "sr":
        raise UpscaleError(
            f"it is a {sr_card_arch!r} model, not an upscaler (train one with --arch sr)"
        )
    if sr_channels != model_channels:
        raise UpscaleError(
            f"it upscales {sr_channels}-channel images, the model makes {model_channels}"
        )
    made, need = model_resolution * scale, needed_size(output, fit)
    if made > need:
        smaller = " (x2 would fit)" if scale == 4 and model_resolution * 2 <= need else ""
        raise UpscaleError(
            f"x{scale} turns the model's {model_resolution} px into {made} px, more than the "
            f"{output[0]}x{output[1]} window needs ({need} px with fit {fit}){smaller}"
        )


def load_upscaler(
    folder: Path,
    model: LoadedModel,
    output: tuple[int, int],
    fit: str,
    device: torch.device,
    dtype: torch.dtype,
) -> LoadedModel:
    """Load, check and move to the show's device; UpscaleError says what is wrong."""
    try:
        sr = load_checkpoint(folder, "cpu")
    except CheckpointError as exc:
        raise UpscaleError(str(exc)) from None
    scale = int(getattr(sr.module, "scale", 0))
    check_fit(
        sr.card.architecture,
        scale,
        sr.card.channels,
        model.card.resolution,
        model.card.channels,
        output,
        fit,
    )
    sr.module.to(device, dtype).eval()
    return sr


class Upscaler:
    """Runs the upscaler on one [C, H, W] frame on the device; `last_ms` is its cost."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.scale = int(model.module.scale)
        self.channels = int(model.card.channels)
        self.name = model.card.name
        self.last_ms = 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        param = next(self.model.module.parameters())
        out = self.model.module.upscale(x[None].to(param.dtype))[0]
        if out.device.type == "cuda":  # the figure must be the work, not the queueing
            torch.cuda.current_stream(out.device).synchronize()
        self.last_ms = (time.perf_counter() - start) * 1000.0
        return out
