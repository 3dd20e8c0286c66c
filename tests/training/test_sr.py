"""The learned upscaler: starts as bilinear, learns to beat it, loads as an upscaler."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from installation.checkpoints import load_checkpoint
from installation.networks.sr import SRConfig, SRUpscaler
from installation.training import run_training
from tests.training.conftest import tiny_config


def test_an_untrained_upscaler_is_exactly_bilinear_and_keeps_the_range():
    x = torch.rand(1, 3, 20, 24) * 2 - 1
    for scale in (2, 4):
        up = SRUpscaler(SRConfig(scale=scale)).eval()
        with torch.no_grad():
            out = up.upscale(x)
        assert out.shape == (1, 3, 20 * scale, 24 * scale)
        assert torch.allclose(
            out, F.interpolate(x, scale_factor=scale, mode="bilinear").clamp(-1, 1)
        )


def test_sr_training_beats_bilinear_on_its_own_images_and_loads_as_an_upscaler(tmp_path):
    cfg = tiny_config(
        tmp_path / "sr",
        arch="sr",
        resolution=64,
        batch=8,
        steps=80,
        lr_g=3e-3,
        dataset="synthetic:marble",
        synthetic_n=8,
        save_every=1000,
        sample_every=1000,
    )
    result = run_training(cfg, progress=False)
    l1, base = result.history["l1"], result.history["l1_bilinear"]
    assert sum(l1[-10:]) < 0.95 * sum(base[-10:]), (l1[-10:], base[-10:])
    model = load_checkpoint(cfg.out)
    assert model.card.architecture == "sr" and model.card.latent_dim == 0
    assert model.module.scale == 2
