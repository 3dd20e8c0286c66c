"""The hot-swap check refuses models not worth showing (issue 11's newcomer model)."""

from __future__ import annotations

import pytest
import torch

from installation.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from installation.live.validation import validate
from installation.networks.sr import SRConfig, SRUpscaler
from tests.conftest import make_model


def test_a_model_of_flat_grey_noise_is_refused(tmp_path):
    folder = make_model(tmp_path / "grey")
    model = load_checkpoint(folder).module
    with (
        torch.no_grad()
    ):  # a newcomer's undertrained DCGAN: faint noise on grey (passes the old spread check)
        model.to_rgb.weight.mul_(0.1)
        model.to_rgb.bias.zero_()
    save_checkpoint(
        folder, model, name="grey", architecture="dcgan", config=model.cfg.to_dict(), step=1
    )
    with pytest.raises(CheckpointError, match="not worth showing: .* flat"):
        validate(folder)


def test_a_healthy_tiny_model_still_passes(tmp_path):
    assert validate(make_model(tmp_path / "ok")).card.name == "tiny"


def test_an_upscaler_is_not_swapped_in_as_a_generator(tmp_path):
    sr = SRUpscaler(SRConfig())
    save_checkpoint(tmp_path / "sr", sr, name="sr", architecture="sr", config=sr.cfg.to_dict())
    with pytest.raises(CheckpointError, match="upscaler .* display.upscale"):
        validate(tmp_path / "sr")
