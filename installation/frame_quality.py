"""Is a model's picture worth showing? Pure measurements on a batch of frames.

The hot-swap check used to ask one question: do different latents give different pictures?
A newcomer's DCGAN trained on 105 photos passed it with half its frames flat grey and the
rest near-identical noise. So each frame is also judged on its own:

- flat: almost no contrast within the frame (spatial standard deviation of a few grey
  levels: a blank, a solid wash), or faint noise on such a wash ("flat grey noise");
- noise: no structure, neighbouring pixels as unrelated as in white noise (the lag-one
  correlation of the frame's pixels is near zero, where a picture of anything, even
  fine texture, has neighbours that agree).

Refused: a model whose frames are at least half flat; one whose frames are mostly noise
that hardly changes with the latent (a collapsed GAN's texture); one whose frames differ
from each other far less than they differ within themselves (near-identical frames). An
untrained net's loud, latent-dependent noise passes: it is not collapsed, just young.
Measured on the CPU in float32, at most 128 px (larger frames are area-downscaled first:
the judgement is about the picture, not about pixel-level grain).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

FLAT_GRAY = 3.0  # spatial std (grey levels 0..255) below which a frame is flat
FAINT_GRAY = 12.0  # noise below this contrast is "flat grey noise": counted as flat
NOISE_CORRELATION = 0.2  # lag-one neighbour correlation below which a frame is noise
FLAT_FRACTION = 0.5  # refuse when at least this share of frames is flat
NOISE_FRACTION = 0.5  # ... or more than this share is noise that barely varies:
NOISE_SPREAD = 0.35  # across-latent spread / contrast below which noise is "near-identical"
MIN_RELATIVE_SPREAD = 0.05  # across-latent spread / within-frame contrast, below: identical


@dataclass(frozen=True)
class FrameQuality:
    flat: int
    noise: int
    frames: int
    relative_spread: float  # how much frames differ from each other, per unit of contrast

    def problem(self) -> str | None:
        """A reason to refuse the model, or None."""
        if self.flat >= FLAT_FRACTION * self.frames:
            return (
                f"{self.flat} of {self.frames} test frames are flat (no picture, or faint noise "
                "on a wash): an undertrained or collapsed model"
            )
        if self.noise > NOISE_FRACTION * self.frames and self.relative_spread < NOISE_SPREAD:
            return (
                f"{self.noise} of {self.frames} test frames are near-identical structureless noise "
                f"(they differ by {self.relative_spread:.0%} of their contrast): a collapsed model"
            )
        if self.relative_spread < MIN_RELATIVE_SPREAD:
            return (
                f"near-identical frames: different latents differ by {self.relative_spread:.1%} "
                "of the frames' own contrast"
            )
        return None


def _neighbour_correlation(x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B]: correlation of each pixel with its right and lower neighbours."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    var = x.square().mean(dim=(1, 2, 3)).clamp_min(1e-12)
    right = (x[..., :, 1:] * x[..., :, :-1]).mean(dim=(1, 2, 3))
    down = (x[..., 1:, :] * x[..., :-1, :]).mean(dim=(1, 2, 3))
    return (right + down) / 2 / var


def measure(images: torch.Tensor) -> FrameQuality:
    """`images` [B, C, H, W] in [-1, 1], B >= 2 different latents."""
    x = images.detach().float().cpu()
    if x.shape[-1] > 128:
        x = F.interpolate(x, size=(128, 128), mode="area")
    gray = x * 127.5
    contrast = gray.std(dim=(2, 3)).mean(dim=1)  # [B] spatial std per frame
    noisy = _neighbour_correlation(gray) < NOISE_CORRELATION
    flat = (contrast < FLAT_GRAY) | (noisy & (contrast < FAINT_GRAY))
    noise = (~flat) & noisy
    across = float(gray.std(dim=0, unbiased=False).mean())
    within = float(contrast.mean())
    relative = across / within if within > 1e-6 else 0.0
    return FrameQuality(int(flat.sum()), int(noise.sum()), int(x.shape[0]), relative)
