"""Shared helpers for the training tests: tiny configs, real image files on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from installation.training import TrainConfig

ORANGE = (230, 120, 40)


def tiny_config(out: Path, **overrides: object) -> TrainConfig:
    """The smallest honest run: 32 px DCGAN (the smallest it makes), width 8, one thread
    (two threads on a shared 2-core machine spend most of their time spinning)."""
    base: dict[str, object] = dict(
        arch="gan",
        dataset="synthetic:shapes",
        out=out,
        resolution=32,
        width=8,
        latent_dim=16,
        batch=8,
        steps=4,
        save_every=2,
        sample_every=2,
        keep=2,
        synthetic_n=16,
        threads=1,
    )
    base.update(overrides)
    return TrainConfig(**base)  # type: ignore[arg-type]


def write_solid_images(
    folder: Path,
    n: int = 6,
    color: tuple[int, int, int] = ORANGE,
    size: int = 40,
    noise: float = 4.0,
) -> Path:
    """`n` PNGs of one colour with a little noise: a trivially learnable dataset."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = np.clip(np.array(color, np.float32) + rng.normal(0, noise, (size, size, 3)), 0, 255)
        Image.fromarray(arr.astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def solid_dataset(tmp_path: Path) -> Path:
    return write_solid_images(tmp_path / "data")
