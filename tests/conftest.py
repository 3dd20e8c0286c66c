"""Shared fixtures. No GPU, screen or MIDI hardware needed: pygame uses SDL's dummy video
driver (a real pygame display with an in-memory window surface) unless a test says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from installation.checkpoints import save_checkpoint  # noqa: E402
from installation.networks import DCGANConfig, DCGANGenerator  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def make_model(
    folder: Path,
    *,
    name: str = "tiny",
    seed: int = 0,
    step: int = 0,
    latent_dim: int = 16,
    width: int = 4,
    resolution: int = 32,
) -> Path:
    """A tiny real DCGAN checkpoint with calibrated BatchNorm, so frames vary with z."""
    torch.manual_seed(seed)
    cfg = DCGANConfig(latent_dim=latent_dim, resolution=resolution, width=width)
    model = DCGANGenerator(cfg)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(32, latent_dim))
    model.eval()
    save_checkpoint(folder, model, name=name, architecture="dcgan", config=cfg.to_dict(), step=step)
    return folder


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "models" / "tiny")


@pytest.fixture
def show_dict(tiny_model: Path) -> dict:
    """A small, fast show on the tiny model: 160x90 output, uncapped."""
    return {
        "display": {"size": [160, 90], "fullscreen": False, "fps": 0, "vsync": False},
        "model": {"path": str(tiny_model), "device": "cpu"},
        "navigator": {"seed": 3, "speed": 0.5},
        # Control services are tested in tests/control; here they would only bind ports.
        "osc": {"enabled": False},
        "midi": {"enabled": False},
    }


@pytest.fixture
def show_file(tmp_path: Path, show_dict: dict) -> Path:
    import yaml

    path = tmp_path / "show.yaml"
    path.write_text(yaml.safe_dump(show_dict), encoding="utf-8")
    return path
