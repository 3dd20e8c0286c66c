"""The picture-quality judgement the hot-swap check uses: flat, noise, near-identical."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from installation.frame_quality import measure


def _smooth(n: int, seed: int = 0) -> torch.Tensor:
    """Pictures with structure: upsampled random colour fields, different per latent."""
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(
        torch.rand(n, 3, 6, 6, generator=g) * 2 - 1, size=(64, 64), mode="bicubic"
    ).clamp(-1, 1)


def test_structured_varied_frames_pass():
    assert measure(_smooth(8)).problem() is None


def test_mostly_flat_grey_noise_is_refused():
    frames = _smooth(8)
    g = torch.Generator().manual_seed(1)
    frames[:4] = 0.02 * torch.randn(4, 3, 64, 64, generator=g)  # half: faint noise on grey
    quality = measure(frames)
    assert quality.flat == 4
    assert "flat" in quality.problem()


def test_near_identical_noise_is_refused_but_loud_varied_noise_is_not():
    g = torch.Generator().manual_seed(2)
    texture = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    same = (texture + 0.05 * torch.randn(8, 3, 64, 64, generator=g)).clamp(-1, 1)
    assert "near-identical structureless noise" in measure(same).problem()
    # an untrained net: loud noise that changes with every latent (not collapsed, just young)
    assert measure(torch.rand(8, 3, 64, 64, generator=g) * 2 - 1).problem() is None


def test_identical_pictures_are_refused_and_big_frames_are_judged_downscaled():
    one = _smooth(1).expand(6, -1, -1, -1)
    assert "near-identical frames" in measure(one).problem()
    big = F.interpolate(_smooth(4), size=(512, 512), mode="bilinear")
    assert measure(big).problem() is None
