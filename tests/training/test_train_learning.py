"""Training actually learns, resumes exactly, and writes the folder layout it promises."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from installation.checkpoints import load_checkpoint, read_card
from installation.training import TrainConfig, run_training
from installation.training.state import load_state
from tests.training.conftest import ORANGE, tiny_config


def _distance_to(folder: Path, color: tuple[int, int, int]) -> float:
    """Mean squared distance of the exported model's samples to a solid colour."""
    module = load_checkpoint(folder).module
    z = torch.randn(16, module.latent_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        images = module.decode(z)
    target = (torch.tensor(color, dtype=torch.float32) / 127.5 - 1).view(1, 3, 1, 1)
    return float((images - target).square().mean())


def test_gan_moves_its_samples_onto_a_trivially_learnable_dataset(tmp_path, solid_dataset):
    # A GAN's losses trade off against each other; the loss that matters is how far its
    # samples are from the data. One step (untrained) versus sixty.
    cfg = tiny_config(
        tmp_path / "m",
        dataset=str(solid_dataset),
        steps=1,
        lr_g=1e-3,
        lr_d=1e-3,
        save_every=1000,
        sample_every=1000,
    )
    run_training(cfg, progress=False)
    before = _distance_to(cfg.out, ORANGE)
    cfg.steps, cfg.resume = 60, True
    result = run_training(cfg, progress=False)
    after = _distance_to(cfg.out, ORANGE)
    assert result.step == 60
    assert after < 0.5 * before, (before, after)
    assert all(map(torch.isfinite, map(torch.tensor, result.history["loss_d"])))


def test_vae_loss_decreases_and_the_export_keeps_its_encoder(tmp_path, solid_dataset):
    cfg = tiny_config(
        tmp_path / "v",
        arch="vae",
        dataset=str(solid_dataset),
        steps=40,
        kl_warmup=20,
        save_every=1000,
        sample_every=1000,
    )
    result = run_training(cfg, progress=False)
    recon = result.history["recon"]
    assert len(recon) == 40
    assert sum(recon[-5:]) / 5 < 0.5 * sum(recon[:5]) / 5, recon
    model = load_checkpoint(cfg.out)
    assert model.card.architecture == "vae"
    image = (
        (torch.tensor(ORANGE, dtype=torch.float32) / 127.5 - 1)
        .view(1, 3, 1, 1)
        .expand(1, 3, 32, 32)
    )
    with torch.no_grad():
        mu, logvar = model.module.encode(image)
    assert mu.shape == (1, 16) and bool(torch.isfinite(logvar).all())


def test_resume_continues_the_step_count_and_the_loss_curve_exactly(tmp_path):
    straight = run_training(tiny_config(tmp_path / "a", steps=6), progress=False)
    first = run_training(tiny_config(tmp_path / "b", steps=3), progress=False)
    resumed = run_training(tiny_config(tmp_path / "b", steps=6, resume=True), progress=False)
    assert first.step == 3 and resumed.step == 6
    assert resumed.steps == [1, 2, 3, 4, 5, 6]
    assert resumed.history["loss_d"][:3] == first.history["loss_d"]
    # Batches, noise and optimizer state are all restored, so the curve is the same curve.
    for name in ("loss_d", "loss_g"):
        assert resumed.history[name] == pytest.approx(straight.history[name], rel=1e-4, abs=1e-6)
    card = read_card(tmp_path / "b")
    assert card.step == 6 and "--resume" in card.command
    state = load_state(tmp_path / "b")
    assert len(state["commands"]) == 2


def test_model_folder_layout_grids_curve_and_last_k_checkpoints(tmp_path):
    cfg = tiny_config(
        tmp_path / "m",
        steps=7,
        save_every=2,
        sample_every=3,
        keep=2,
        command="python -m installation train --exact",
    )
    run_training(cfg, progress=False)
    folder = cfg.out
    card = json.loads((folder / "card.json").read_text())
    assert card["step"] == 7 and card["architecture"] == "dcgan"
    assert card["command"] == "python -m installation train --exact"
    # checkpoints at 2, 4, 6 and the final 7; only the last two are kept
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == [
        "step-0000006",
        "step-0000007",
    ]
    assert load_checkpoint(folder / "checkpoints" / "step-0000006").card.step == 6
    assert sorted(p.name for p in (folder / "samples").iterdir()) == [
        "step-0000003.png",
        "step-0000006.png",
        "step-0000007.png",
    ]
    with Image.open(folder / "samples" / "step-0000007.png") as grid:
        assert grid.width == grid.height and grid.width >= 8 * 32
    with Image.open(folder / "loss.png") as curve:
        assert curve.size == (900, 420)
    assert not list(folder.rglob("*.tmp"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"arch": "mlp", "resolution": 28, "channels": 1},
        {"loss": "hinge"},
        {"export_dtype": "fp16"},
    ],
)
def test_variants_train_and_export_loadable_models(tmp_path, overrides):
    cfg = tiny_config(tmp_path / "m", steps=2, **overrides)
    run_training(cfg, progress=False)
    model = load_checkpoint(cfg.out)
    assert model.card.architecture == cfg.network
    if overrides.get("export_dtype") == "fp16":
        assert model.card.dtype == "float16"


def test_hinge_option_puts_spectral_norm_in_the_discriminator(tmp_path):
    from installation.training.tasks import GANTask

    cfg = tiny_config(tmp_path / "m", loss="hinge").resolved()
    task = GANTask(cfg, torch.device("cpu"))
    names = [n for n, _ in task.d.named_parameters()]
    assert any("parametrizations.weight.original" in n for n in names)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in task.d.modules())


def test_stop_event_ends_after_a_step_and_saves_it(tmp_path):
    stop = threading.Event()
    seen = []

    def on_checkpoint(folder: Path, card) -> None:
        seen.append(card.step)
        stop.set()  # as a show's trainer service would, from another thread

    cfg = tiny_config(tmp_path / "m", steps=1000, save_every=2)
    result = run_training(cfg, stop=stop, on_checkpoint=on_checkpoint, progress=False)
    assert result.stopped and result.step == 2 and seen == [2]
    assert load_checkpoint(cfg.out).card.step == 2


def test_pause_holds_training_between_steps(tmp_path):
    stop, pause = threading.Event(), threading.Event()
    pause.set()
    cfg = tiny_config(tmp_path / "m", steps=1000)
    results = []
    worker = threading.Thread(
        target=lambda: results.append(run_training(cfg, stop=stop, pause=pause, progress=False))
    )
    worker.start()
    try:
        worker.join(timeout=1.5)  # data drawn, networks built, then it waits
        assert worker.is_alive() and not (cfg.out / "card.json").exists()
    finally:
        stop.set()
        worker.join(timeout=30)
    assert results and results[0].step == 0 and results[0].stopped


def test_config_round_trips_to_an_equivalent_command_line():
    cfg = TrainConfig(
        arch="vae", dataset="imgs", out=Path("models/x"), steps=10, beta=0.5, flip=False
    )
    argv = cfg.to_argv()
    assert argv[:4] == ["python", "-m", "installation", "train"]
    from installation.cli import build_parser

    args = build_parser().parse_args(argv[3:])
    assert (args.arch, args.dataset, args.steps, args.beta, args.flip) == (
        "vae",
        "imgs",
        10,
        0.5,
        False,
    )


def test_a_full_disk_while_saving_is_a_clear_error_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch
):
    import errno
    import os

    from installation.training import TrainingError

    cfg = tiny_config(tmp_path / "m", steps=2)
    run_training(cfg, progress=False)

    # A mock: this machine cannot fill a real disk on demand. Every fsync of a written file
    # fails the way a full disk fails, which is where atomic_write_bytes would meet it.
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(TrainingError, match="No space left on device"):
        run_training(tiny_config(tmp_path / "m", steps=4, resume=True), progress=False)
    monkeypatch.undo()
    assert load_checkpoint(cfg.out).card.step == 2
    assert load_state(cfg.out)["step"] == 2
    assert not list(cfg.out.rglob("*.tmp")) and not list(cfg.out.rglob(".*.tmp"))


def test_cli_resume_keeps_the_saved_shape_and_overwrite_starts_clean(tmp_path):
    from installation.cli import main

    out = tmp_path / "m"
    common = [
        "train",
        "--dataset",
        "synthetic:shapes",
        "--synthetic-n",
        "8",
        "--batch",
        "4",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(out),
        "--save-every",
        "1",
    ]
    shape = ["--resolution", "32", "--width", "8", "--latent-dim", "16"]
    assert main([*common, *shape, "--steps", "2"]) == 0
    assert main([*common, "--steps", "3", "--resume"]) == 0  # shape options left out: kept
    card = read_card(out)
    assert card.step == 3 and card.resolution == 32 and card.config["width"] == 8
    assert card.command.endswith("--steps 3 --resume")
    assert main([*common, *shape, "--steps", "1"]) == 2  # would silently replace the run
    assert main([*common, *shape, "--steps", "1", "--overwrite"]) == 0
    assert read_card(out).step == 1
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-0000001"]
    assert len(load_state(out)["commands"]) == 1


def test_divergence_stops_training_without_saving_nan_weights(tmp_path):
    from installation.training import TrainingError

    cfg = tiny_config(tmp_path / "m", steps=2)
    run_training(cfg, progress=False)
    # An infinite learning rate makes the weights, then the losses, non-finite at once.
    with pytest.raises(TrainingError, match="diverged"):
        run_training(
            tiny_config(
                tmp_path / "m",
                steps=200,
                resume=True,
                lr_g=float("inf"),
                lr_d=float("inf"),
                save_every=1000,
                sample_every=1000,
            ),
            progress=False,
        )
    assert load_checkpoint(cfg.out).card.step == 2
