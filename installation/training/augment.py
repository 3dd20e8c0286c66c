"""Differentiable augmentation (Zhao et al., "Differentiable Augmentation for Data-Efficient
GAN Training", NeurIPS 2020), written from the paper: colour, translation and cutout applied
the same way to real and generated images before the discriminator sees them, so a small
dataset cannot be memorised by D, and the generator still gets gradients through them.

The probability adapts to the dataset: always for a few hundred images (where D overfits
within minutes), less for thousands (where augmentation would only slow learning).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def probability_for(n_images: int) -> float:
    """1.0 up to 200 images, falling with log(n) to 0.3 at 20,000 and beyond."""
    if n_images <= 200:
        return 1.0
    return max(0.3, min(1.0, 1.0 - 0.35 * math.log10(n_images / 200)))


def _colour(x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    b = x.shape[0]

    def rand() -> torch.Tensor:
        return torch.rand(b, 1, 1, 1, generator=gen).to(x.device, x.dtype)

    x = x + (rand() - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (rand() * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (rand() + 0.5) + mean  # contrast


def _translate(x: torch.Tensor, gen: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    """Shift by up to `ratio` of the size, zero-filled, as one gather (differentiable)."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), generator=gen).to(x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=gen).to(x.device)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    yy = (gy[None] + ty + 1).clamp(0, h + 1)
    xx = (gx[None] + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = (yy * (w + 2) + xx).view(b, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x: torch.Tensor, gen: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=gen).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=gen).to(x.device)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    inside = ((gy[None] - cy).abs() <= ch // 2) & ((gx[None] - cx).abs() <= cw // 2)
    return x * (~inside)[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor, p: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """Colour, translation, cutout, each image augmented with probability `p`."""
    if p <= 0.0:
        return x
    aug = _cutout(_translate(_colour(x, gen), gen), gen)
    if p >= 1.0:
        return aug
    keep = (torch.rand(x.shape[0], 1, 1, 1, generator=gen) < p).to(x.device, x.dtype)
    return x + (aug - x) * keep
