"""GANSpace directions: a direction moves the output along a consistent axis; the cache
beside the model is used only for the weights it was made from; the show pushes along it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from installation.checkpoints import load_checkpoint
from installation.cli import main
from installation.instruments.directions import (
    CACHE_FILE,
    compute_directions,
    load_directions,
    save_directions,
)
from tests.conftest import make_model
from tests.instruments.support import Stepped, ev, show_dict


@torch.no_grad()
def test_a_direction_moves_the_output_along_a_consistent_axis(tmp_path: Path) -> None:
    model = load_checkpoint(make_model(tmp_path / "m", latent_dim=16, width=8), "cpu")
    d = compute_directions(model.module, 16, samples=1024, progress=False)
    assert d.vectors.shape == (8, 16) and d.layer == "stem"
    np.testing.assert_allclose(np.linalg.norm(d.vectors, axis=1), 1.0, atol=1e-5)
    assert (np.diff(d.explained) <= 1e-6).all()  # in order of variance explained
    z = torch.randn(12, 16, generator=torch.Generator().manual_seed(1))
    stem = model.module.stem
    for k in range(3):
        push = torch.from_numpy(d.vectors[k] * d.sigma[k])
        moved = (stem((z + push)[:, :, None, None]) - stem(z[:, :, None, None])).flatten(1)
        coords = moved.numpy() @ d.axes.T  # [12 latents, 8 principal axes]
        # From every starting point the early features move forward along axis k, and along
        # it more than along any other principal axis.
        assert (coords[:, k] > 0).all()
        assert (np.abs(coords).argmax(axis=1) == k).mean() >= 0.75
        # The pictures change the same way from every starting point.
        along = (model.module.decode(z + push) - model.module.decode(z)).flatten(1)
        mean = torch.nn.functional.normalize(along.mean(0), dim=0)
        assert (torch.nn.functional.normalize(along, dim=1) @ mean > 0).all()


def test_the_cache_is_for_these_weights_only(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m")
    model = load_checkpoint(folder, "cpu")
    assert load_directions(folder, 16)[0] is None
    save_directions(folder, compute_directions(model.module, 16, samples=256, progress=False))
    loaded, why = load_directions(folder, 16)
    assert loaded is not None and why == ""
    assert load_directions(folder, 32)[0] is None  # another latent size
    make_model(folder, seed=5)  # retrained: new weights in place
    stale, why = load_directions(folder, 16)
    assert stale is None and "other weights" in why


def test_the_command_caches_and_draws_a_strip(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m")
    strip = tmp_path / "strip.png"
    assert main(["directions", str(folder), "--samples", "256", "--strip", str(strip)]) == 0
    assert (folder / CACHE_FILE).exists()
    from PIL import Image

    with Image.open(strip) as image:  # 8 rows of 7 pictures
        assert image.height > image.width


def test_the_show_pushes_along_a_direction(tmp_path: Path) -> None:
    data = show_dict(tmp_path)
    folder = Path(data["model"]["path"])
    model = load_checkpoint(folder, "cpu")
    d = compute_directions(model.module, 16, samples=256, progress=False)
    save_directions(folder, d)
    data["parameters"] = {"direction.2": {"smoothing": 0}, "walk.paused": {"smoothing": 0}}
    show = Stepped(tmp_path, data)
    try:
        show.run(3, {0: [ev("walk.paused", 1)]})
        show.run(1, {3: [ev("direction.2", 1.5)]})
        moved = show.latents[3] - show.latents[2]
        np.testing.assert_allclose(moved, d.vectors[1] * d.sigma[1] * 1.5, atol=1e-4)
        assert any("2:+1.5" in line for line in show.instrument.hud_lines())
    finally:
        show.close()
