"""Datasets: real files on disk, corrupt ones skipped and counted, procedural sets."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from installation.checkpoints import load_checkpoint
from installation.cli import main
from installation.training import TrainingError, run_training
from installation.training.data import DatasetError, StepSampler, load_folder
from installation.training.synth import render
from tests.training.conftest import tiny_config


@pytest.fixture
def mixed_folder(tmp_path):
    """Three good images in three formats and modes, two broken ones, one non-image."""
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)).save(folder / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8), "L").save(
        folder / "sub" / "grey.png"
    )
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:20, :, 3] = 255  # top half opaque white, bottom half transparent white
    Image.fromarray(rgba, "RGBA").save(folder / "sub" / "alpha.png")
    good = (folder / "a.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    return folder


def test_corrupt_and_unsupported_files_are_skipped_with_a_count_and_a_warning_each(
    mixed_folder, caplog
):
    with caplog.at_level(logging.WARNING, logger="installation.training.data"):
        data = load_folder(mixed_folder, resolution=32, channels=3)
    assert len(data) == 3
    skipped = {p.rsplit("/", 1)[-1]: why for p, why in data.skipped}
    assert set(skipped) == {"truncated.jpg", "noise.png", "notes.txt"}
    assert skipped["notes.txt"].startswith("unsupported")
    assert skipped["truncated.jpg"].startswith("unreadable")
    per_file = [r for r in caplog.records if r.getMessage().startswith("skipping ")]
    assert len(per_file) == 3
    assert any("skipped 3 of 6 files" in r.getMessage() for r in caplog.records)


def test_grey_and_transparent_images_become_rgb_on_black(mixed_folder):
    data = load_folder(mixed_folder, resolution=32, channels=3, flip=False)
    assert data.images.shape == (3, 3, 36, 36) and data.images.dtype == torch.uint8
    # files are sorted: a.jpg, sub/alpha.png, sub/grey.png
    alpha, grey = data.images[1], data.images[2]
    assert int(alpha[:, 2, :].min()) > 200 and int(alpha[:, -2, :].max()) < 30  # white over black
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    batch = data.batch([0, 1, 2], torch.Generator().manual_seed(0))
    assert batch.shape == (3, 3, 32, 32) and batch.min() >= -1 and batch.max() <= 1


def test_a_dataset_smaller_than_a_batch_still_trains(tmp_path, mixed_folder):
    cfg = tiny_config(tmp_path / "m", dataset=str(mixed_folder), batch=8, steps=2)
    result = run_training(cfg, progress=False)
    assert result.step == 2 and result.skipped_files == 3
    assert load_checkpoint(cfg.out).card.step == 2


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no images"),
        (
            lambda p: (
                (p / "bad").mkdir() or (p / "bad" / "x.png").write_bytes(b"nope") and p / "bad"
            ),
            "could be read",
        ),
    ],
)
def test_empty_missing_or_unreadable_folders_are_clear_errors_before_anything_is_written(
    tmp_path, make, message
):
    cfg = tiny_config(tmp_path / "out", dataset=str(make(tmp_path)))
    with pytest.raises(DatasetError, match=message):
        run_training(cfg, progress=False)
    assert not (tmp_path / "out").exists()


def test_step_sampler_gives_ranks_disjoint_slices_and_is_a_function_of_the_step():
    a = StepSampler(10, 3, seed=5, rank=0, world=2)
    b = StepSampler(10, 3, seed=5, rank=1, world=2)
    # positions 0-9 are one epoch: step 0 (rank 0, then rank 1), step 1 (rank 0, then rank 1)
    first_epoch = a.indices(0) + b.indices(0) + a.indices(1) + b.indices(1)[:1]
    assert sorted(first_epoch) == list(range(10))
    assert StepSampler(10, 3, seed=5, rank=0, world=2).indices(7) == a.indices(7)
    tiny = StepSampler(2, 5, seed=0)  # smaller than a batch: wraps around
    assert len(tiny.indices(0)) == 5 and set(tiny.indices(0)) == {0, 1}


def test_synthetic_images_are_deterministic_by_seed_and_colourful():
    a, b, c = render("shapes", 0, 3, 64), render("shapes", 0, 3, 64), render("shapes", 1, 3, 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    for i in range(8):
        img = render("shapes", 0, i, 64).astype(np.float32)
        assert img.std() > 12  # forms, not a flat field
        hsv = np.asarray(Image.fromarray(img.astype(np.uint8)).convert("HSV"), np.float32)
        assert hsv[..., 1].mean() > 60  # saturated colour, not grey


def test_dataset_synth_command_writes_pngs_that_train(tmp_path):
    out = tmp_path / "shapes"
    assert (
        main(
            [
                "dataset",
                "synth",
                "--kind",
                "shapes",
                "--n",
                "5",
                "--out",
                str(out),
                "--seed",
                "2",
                "--resolution",
                "48",
            ]
        )
        == 0
    )
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == [f"shapes-{i:06d}.png" for i in range(5)]
    with Image.open(files[4]) as img:
        assert np.array_equal(np.asarray(img), render("shapes", 2, 4, 48))
    assert main(["dataset", "synth", "--kind", "fractals", "--n", "1", "--out", str(out)]) == 2
    data = load_folder(out, resolution=32, channels=3)
    assert len(data) == 5 and not data.skipped


def test_bad_training_requests_are_refused_with_reasons(tmp_path):
    with pytest.raises(TrainingError, match="resolution must be one of"):
        run_training(tiny_config(tmp_path / "a", resolution=48), progress=False)
    run_training(tiny_config(tmp_path / "g", steps=1), progress=False)
    with pytest.raises(TrainingError, match="holds a 'dcgan' model"):
        run_training(tiny_config(tmp_path / "g", arch="vae", steps=1), progress=False)
    with pytest.raises(TrainingError, match="already holds a model"):
        run_training(tiny_config(tmp_path / "g", steps=1), progress=False)
    with pytest.raises(TrainingError, match="does not exist"):
        run_training(tiny_config(tmp_path / "new", resume=True), progress=False)
    with pytest.raises(TrainingError, match="--width 8, not 16"):
        run_training(tiny_config(tmp_path / "g", resume=True, width=16), progress=False)
    (tmp_path / "g" / "train_state.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{not json")
    with pytest.raises(TrainingError, match="damaged"):
        run_training(tiny_config(tmp_path / "g", resume=True, steps=3), progress=False)
    assert (
        main(
            [
                "train",
                "--dataset",
                "synthetic:shapes",
                "--out",
                str(tmp_path / "x"),
                "--resolution",
                "40",
            ]
        )
        == 2
    )
