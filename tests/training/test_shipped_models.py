"""The models shipped in models/ load, were made by this trainer, and draw real pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from installation.checkpoints import load_checkpoint
from installation.config.show import load_show
from installation.render.renderer import FrameRenderer, PixelLayout

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"default-gan": "dcgan", "default-vae": "vae", "default-flow": "fewshot"}
DATASET = {
    "default-gan": "synthetic:shapes",
    "default-vae": "synthetic:shapes",
    "default-flow": "synthetic:fluid",
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_default_loads_and_renders_finite_varied_frames(name):
    folder = ROOT / "models" / name
    model = load_checkpoint(folder)
    card = model.card
    assert card.architecture == SHIPPED[name] and card.step > 0
    assert card.command.startswith("python -m installation train ")
    assert f"--out models/{name}" in card.command and DATASET[name] in card.command
    shipped = [folder / f for f in ("model.safetensors", "card.json", "loss.png")]
    assert sum(p.stat().st_size for p in shipped) <= 30 * 1024 * 1024

    renderer = FrameRenderer(model, torch.device("cpu"), torch.float32, PixelLayout())
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(4):
        z = rng.standard_normal(model.latent_dim).astype(np.float32)
        frames.append(renderer.host_arrays[renderer.render(z)][..., :3].astype(np.float32).copy())
    for frame in frames:
        assert np.isfinite(frame).all()
        assert frame.std() > 8  # a picture, not a flat field
    # different latents, different pictures
    assert min(np.abs(a - b).mean() for a, b in zip(frames, frames[1:], strict=False)) > 2


def test_the_default_show_plays_the_field_head_fewshot_model_at_256_px_in_fp16():
    show = load_show(ROOT / "show.yaml")
    assert show.resolve(show.model.path).resolve() == (ROOT / "models" / "default-flow").resolve()
    card = load_checkpoint(ROOT / "models" / "default-flow").card
    assert card.resolution == 256 and card.config["preset"] == "lite" and card.dtype == "float16"
    assert card.config["head"] == "field"
    # trained at 128 px: drawn at 256 and judged at 128 (the field head's recipe)
    assert "--resolution 128" in card.command and card.config["padding"] == "reflect"


def test_the_shipped_upscaler_is_an_x2_trained_on_the_same_dataset():
    model = load_checkpoint(ROOT / "models" / "default-fluid-sr")
    assert model.card.architecture == "sr" and model.module.scale == 2
    assert "synthetic:fluid" in model.card.command


def test_the_default_shows_trainer_starts_from_the_shipped_default():
    from installation.live.trainer import trainer_command

    argv = trainer_command(load_show(ROOT / "show.yaml"))
    assert argv[argv.index("--init-from") + 1].endswith("models/default-flow")
    assert argv[argv.index("--head") + 1] == "field"
    assert argv[argv.index("--play-resolution") + 1] == "256"
