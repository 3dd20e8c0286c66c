"""Keyframes from images: a clear message for a file that is not one, a note for a huge one,
a projection that finds the latent behind a picture the model drew, a VAE that encodes, and
all of it off the render thread in the running show."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from installation.checkpoints import load_checkpoint, save_checkpoint
from installation.instruments.project import ImageError, load_image, project
from installation.networks import ConvVAE, VAEConfig
from tests.conftest import make_model
from tests.instruments.support import Stepped, ev, show_dict


def _png(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_a_file_that_is_not_an_image_gets_a_clear_message(tmp_path: Path) -> None:
    fake = tmp_path / "cat.png"
    fake.write_text("meow", encoding="utf-8")
    with pytest.raises(ImageError, match="cat.png: not an image"):
        load_image(fake, 32)
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "none.png", 32)


def test_a_huge_image_is_downscaled_with_a_note(tmp_path: Path) -> None:
    x, note = load_image(_png(tmp_path / "big.png", (1600, 1200)), 32)
    assert x.shape == (1, 3, 32, 32) and -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert "1600x1200 downscaled to 32x32" in note
    assert load_image(_png(tmp_path / "small.png", (32, 32)), 32)[1] == ""


@torch.no_grad()
def _drawn(module: torch.nn.Module, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(1, 16, generator=torch.Generator().manual_seed(seed))
    return z, module.decode(z)


def test_projection_finds_a_latent_that_draws_the_picture(tmp_path: Path) -> None:
    model = load_checkpoint(make_model(tmp_path / "m", width=8), "cpu")
    module = model.module.requires_grad_(False)
    _, target = _drawn(module, 3)
    with torch.no_grad():
        start = float(
            (
                (
                    module.decode(torch.randn(64, 16, generator=torch.Generator().manual_seed(9)))
                    - target
                )
                ** 2
            ).mean()
        )
    z, loss = project(module, 16, target, steps=300, target_loss=0.002)
    assert loss < 0.25 * start
    with torch.no_grad():
        assert float(
            ((module.decode(torch.from_numpy(z)[None]) - target) ** 2).mean()
        ) == pytest.approx(loss, rel=0.5)


def _vae(folder: Path) -> Path:
    torch.manual_seed(0)
    cfg = VAEConfig(latent_dim=16, resolution=32, width=4)
    save_checkpoint(
        folder, ConvVAE(cfg).eval(), name="tinyvae", architecture="vae", config=cfg.to_dict()
    )
    return folder


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_the_show_makes_a_keyframe_from_an_image_off_the_render_thread(
    tmp_path: Path, kind: str
) -> None:
    data = show_dict(tmp_path)
    if kind == "vae":
        data["model"]["path"] = str(_vae(tmp_path / "models" / "vae"))
    image = _png(tmp_path / "photo.png", (640, 480))
    show = Stepped(tmp_path, data)
    try:
        show.step([ev("keyframe.image", text="photo.png")])  # relative to the show's folder
        deadline = time.monotonic() + 60
        seen_progress = False
        while not show.instrument.desk.book.keyframes and time.monotonic() < deadline:
            show.step()
            seen_progress |= show.loop.targets["projection.progress"] > 0
            time.sleep(0.01)
        assert len(show.instrument.desk.book.keyframes) == 1
        notes = " ".join(show.instrument.hud_lines())
        assert "640x480 downscaled" in notes
        assert ("encoded" in notes) if kind == "vae" else ("projected" in notes and seen_progress)
        show.step([ev("keyframe.image", text="nowhere.png")])
        deadline = time.monotonic() + 10
        while (
            "no such file" not in " ".join(show.instrument.hud_lines())
            and time.monotonic() < deadline
        ):
            show.step()
            time.sleep(0.01)
        assert "nowhere.png: no such file" in " ".join(show.instrument.hud_lines())
        assert image.exists()
    finally:
        show.close()
