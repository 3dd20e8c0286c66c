"""style.mix and noise.strength: a few-shot model wears a second latent's excitation and
scales its injected noise; models without excitation ignore both."""

from __future__ import annotations

import numpy as np
import torch

from installation.checkpoints import load_checkpoint, save_checkpoint
from installation.networks import build_model
from installation.networks.stylegan_base import StyleControls
from installation.render.renderer import FrameRenderer, PixelLayout
from installation.training.config import TrainConfig


def _fewshot(tmp_path):
    config = TrainConfig(arch="fewshot", resolution=128, width=25).generator_config()
    torch.manual_seed(0)
    module = build_model("fewshot", config)
    for bn in (m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.momentum = None  # a plain average: one calibration batch sets the statistics
    module.train()
    with torch.no_grad():
        module.decode(torch.randn(16, module.latent_dim))  # calibrate batch norm
        for (
            gate
        ) in module.sle.values():  # untrained gates sit near 0.5 for every latent: make them matter
            gate.body[1].weight.mul_(30)
    save_checkpoint(tmp_path / "f", module.eval(), name="f", architecture="fewshot", config=config)
    return load_checkpoint(tmp_path / "f")


def _frame(renderer, z, style_z=None, style_mix=0.0, noise=None):
    style = None
    if style_z is not None or noise is not None:
        style = StyleControls(
            mix_z=None if style_z is None else torch.from_numpy(style_z)[None],
            mix=style_mix,
            noise_strength=1.0 if noise is None else noise,
        )
    return (
        renderer.host_arrays[renderer.render(z, index=0, style=style)][..., :3]
        .astype(np.int16)
        .copy()
    )


def test_style_mix_changes_a_fewshot_frame_and_zero_is_the_plain_picture(tmp_path):
    model = _fewshot(tmp_path)
    renderer = FrameRenderer(model, torch.device("cpu"), torch.float32, PixelLayout())
    rng = np.random.default_rng(0)
    z, other = (rng.standard_normal(model.latent_dim).astype(np.float32) for _ in range(2))
    plain = _frame(renderer, z)
    assert np.array_equal(_frame(renderer, z, style_z=other, style_mix=0.0), plain)
    mixed = _frame(renderer, z, style_z=other, style_mix=1.0)
    assert np.abs(mixed - plain).mean() > 0.5


def test_models_without_excitation_ignore_style_mix(tiny_model):
    model = load_checkpoint(tiny_model)
    renderer = FrameRenderer(model, torch.device("cpu"), torch.float32, PixelLayout())
    z = np.random.default_rng(1).standard_normal(model.latent_dim).astype(np.float32)
    assert np.array_equal(
        _frame(renderer, z, style_z=z[::-1].copy(), style_mix=1.0), _frame(renderer, z)
    )


def test_noise_strength_scales_the_injected_noise_and_one_is_as_trained(tmp_path):
    model = _fewshot(tmp_path)
    with torch.no_grad():
        for block in model.module.blocks.values():
            block.body[1].weight.fill_(0.5)  # make the noise matter
    renderer = FrameRenderer(model, torch.device("cpu"), torch.float32, PixelLayout())
    z = np.random.default_rng(2).standard_normal(model.latent_dim).astype(np.float32)
    trained, clean, half = (_frame(renderer, z, noise=n) for n in (1.0, 0.0, 0.5))
    assert np.array_equal(trained, _frame(renderer, z))
    assert 0 < np.abs(half - clean).mean() < np.abs(trained - clean).mean()
