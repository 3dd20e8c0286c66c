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


def test_sample_draws_a_strip_per_direction_from_the_cache(tmp_path: Path, capsys) -> None:
    from PIL import Image

    folder = make_model(tmp_path / "m")
    sheet = tmp_path / "sheet.png"
    assert main(["directions", str(folder), "--samples", "256", "--strip", str(sheet)]) == 0
    cached = (folder / CACHE_FILE).stat().st_mtime_ns
    out = tmp_path / "strips"
    assert main(["sample", str(folder), "--directions", "--seeds", "7", "--out", str(out)]) == 0
    assert (folder / CACHE_FILE).stat().st_mtime_ns == cached  # the cache, not computed again
    # One implementation: the sample command's sheet is the directions command's, byte for byte.
    assert (out / "directions.png").read_bytes() == sheet.read_bytes()
    strips = sorted(out.glob("direction-*.png"))
    assert len(strips) == 8
    with Image.open(strips[0]) as one, Image.open(sheet) as whole:
        assert one.width == whole.width and 7 * one.height < whole.height
    bad = ["sample", str(folder), "--directions", "--out", str(tmp_path / "x.npy")]
    assert main(bad) == 2
    assert "a .png or a directory" in capsys.readouterr().err


def _tiny_stylegan(folder: Path) -> Path:
    """A random tiny StyleGAN2 (z 16, w 24), saved as the package saves any model."""
    from installation.checkpoints import save_checkpoint
    from installation.networks.stylegan2 import StyleGAN2Config, StyleGAN2Generator

    torch.manual_seed(3)
    cfg = StyleGAN2Config(resolution=8, z_dim=16, w_dim=24, channel_max=16, mapping_layers=2)
    module = StyleGAN2Generator(cfg).eval()
    save_checkpoint(folder, module, name="sg", architecture="stylegan2", config=cfg.to_dict())
    return folder


@torch.no_grad()
def test_a_style_based_model_is_pushed_along_the_principal_axis_of_w(tmp_path: Path) -> None:
    from installation.networks.stylegan_base import StyleControls

    model = load_checkpoint(_tiny_stylegan(tmp_path / "sg"), "cpu")
    module = model.module
    d = compute_directions(module, 16, samples=512, progress=False)
    assert d.space == "w" and d.layer == "mapping" and d.vectors.shape == (8, 24)
    np.testing.assert_array_equal(d.vectors, d.axes)  # the axis itself, not a regression
    z = torch.randn(5, 16, generator=torch.Generator().manual_seed(2))
    for psi in (1.0, 0.7):
        amounts = np.zeros(8, dtype=np.float32)
        amounts[2] = 1.5
        push = torch.from_numpy(d.offset(amounts))
        moved = module.ws(z, StyleControls(psi=psi, w_offset=push)) - module.ws(
            z, StyleControls(psi=psi)
        )
        # Every layer's w, from every start, moves by exactly 1.5 sigma along axis 3.
        expected = torch.from_numpy(d.axes[2] * d.sigma[2] * 1.5).expand_as(moved)
        torch.testing.assert_close(moved, expected, rtol=1e-4, atol=1e-5)
    # A w offset of another width (another model, mid-crossfade) is left out.
    torch.testing.assert_close(
        module.decode(z, StyleControls(w_offset=torch.ones(16))), module.decode(z)
    )
    save_directions(model.folder, d)
    cached, _ = load_directions(model.folder, 16, 24)
    assert cached is not None and cached.space == "w"
    np.testing.assert_allclose(cached.vectors, d.vectors)
    missing, why = load_directions(model.folder, 16)  # asked as if it were not style-based
    assert missing is None and "another size" in why


def test_the_show_pushes_a_style_based_model_in_w(tmp_path: Path) -> None:
    data = show_dict(tmp_path)
    folder = _tiny_stylegan(tmp_path / "models" / "sg")
    data["model"]["path"] = str(folder)
    model = load_checkpoint(folder, "cpu")
    d = compute_directions(model.module, 16, samples=256, progress=False)
    save_directions(folder, d)
    data["parameters"] = {"direction.2": {"smoothing": 0}, "walk.paused": {"smoothing": 0}}
    show = Stepped(tmp_path, data)
    styles = []  # what the real loop hands the real renderer, recorded on the way through
    render = show.loop.renderer.render

    def recording(z, *args, style=None, **kw):
        styles.append(style)
        return render(z, *args, style=style, **kw)

    show.loop.renderer.render = recording
    try:
        show.run(3, {0: [ev("walk.paused", 1)]})
        show.run(1, {3: [ev("direction.2", 1.5)]})
        np.testing.assert_array_equal(show.latents[3], show.latents[2])  # z stays put
        assert styles[2].w_offset is None
        np.testing.assert_allclose(
            styles[3].w_offset.numpy(), d.vectors[1] * d.sigma[1] * 1.5, atol=1e-5
        )
        assert any("2:+1.5" in line for line in show.instrument.hud_lines())
    finally:
        show.close()
