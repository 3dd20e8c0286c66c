"""`installation sample` for every architecture: a labelled grid, raw arrays, a folder, and
one clear error for bad arguments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from installation.cli import main
from installation.sample import parse_seeds

from .conftest import make_model


def test_seed_ranges() -> None:
    assert parse_seeds("1-4,9") == [1, 2, 3, 4, 9]
    assert parse_seeds("42") == [42]


def test_dcgan_grid_npy_and_folder(tmp_path: Path) -> None:
    model = make_model(tmp_path / "m")
    assert main(["sample", str(model), "--seeds", "1-6", "--out", str(tmp_path / "g.png")]) == 0
    with Image.open(tmp_path / "g.png") as grid:
        assert grid.width > 3 * 128 and grid.height > 2 * 128  # 3x2 tiles of >= 128 px, labels
    assert main(["sample", str(model), "--seeds", "1-3", "--out", str(tmp_path / "a.npy")]) == 0
    raw = np.load(tmp_path / "a.npy")
    assert raw.shape == (3, 3, 32, 32) and raw.dtype == np.float32
    assert not np.array_equal(raw[0], raw[1])
    assert main(["sample", str(model), "--seeds", "5,7", "--out", str(tmp_path / "dir")]) == 0
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == [
        "grid.png",
        "seed5.png",
        "seed7.png",
    ]
    # psi scales z for models without styles, as the show's truncation does.
    assert (
        main(
            ["sample", str(model), "--seeds", "1-3", "--psi", "0", "--out", str(tmp_path / "c.npy")]
        )
        == 0
    )
    flat = np.load(tmp_path / "c.npy")
    np.testing.assert_allclose(flat[0], flat[2], atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "a-b"], "not a seed"),
        (["--seeds", "0-5000"], "1 to 1024 seeds"),
        (["--psi", "nan"], "--psi"),
        (["--z", "missing.npy"], "--z"),
    ],
)
def test_bad_arguments_are_one_clear_error(
    tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    model = make_model(tmp_path / "m")
    assert main(["sample", str(model), *args, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()
