"""The background trainer of a show: its `installation train` command line, its environment
and its supervisor (a low-priority child process that learns while the show plays)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from installation.checkpoints import CheckpointError, read_card
from installation.live.supervisor import TrainerSupervisor
from installation.stats import StatsWriter
from installation.training.config import TrainConfig
from installation.training.state import STATE_FILE

if TYPE_CHECKING:
    from installation.config.show import Show


def trainer_command(show: Show) -> list[str]:
    """`installation train ...` for the show's training section (resuming when it can)."""
    tr = show.training
    out = show.resolve(tr.out)
    dataset = tr.dataset if tr.dataset.startswith("synthetic:") else str(show.resolve(tr.dataset))
    resolution = tr.resolution or _default_resolution(show)
    batch = tr.batch or (8 if tr.architecture == "fewshot" else 16)
    argv = [
        sys.executable,
        "-m",
        "installation",
        "train",
        "--arch",
        tr.architecture,
        "--dataset",
        dataset,
        "--resolution",
        str(resolution),
        "--batch",
        str(batch),
        "--steps",
        str(tr.steps),
        "--out",
        str(out),
        "--save-every",
        str(tr.save_every),
        "--keep",
        str(tr.keep),
        "--threads",
        str(tr.threads),
        *(["--device", "cpu"] if tr.device == "cpu" else []),
        *tr.extra_args,
    ]
    if (out / STATE_FILE).exists():  # a run to continue (after a restart, or a new show night)
        argv.append("--resume")
    elif tr.transfer and (source := transfer_source(show, resolution)) is not None:
        argv += ["--init-from", str(source)]
    return argv


SHAPE_FLAGS = ("--width", "--preset", "--latent-dim", "--channels")


def _default_resolution(show: Show) -> int:
    """The architecture's default size; for a few-shot run that may start from the show's own
    few-shot model (transfer), that model's size, so the transfer is not lost to a default."""
    tr = show.training
    if tr.architecture == "fewshot" and tr.transfer:
        try:
            card = read_card(show.resolve(show.model.path))
        except CheckpointError:
            card = None
        if card is not None and card.architecture == "fewshot":
            return card.resolution
    return TrainConfig(arch=tr.architecture).resolved().resolution


def transfer_source(show: Show, resolution: int) -> Path | None:
    """The show's own model, when a new few-shot run can start from its generator: same
    architecture and exactly the shape this run will build (else the run would refuse)."""
    tr = show.training
    if tr.architecture != "fewshot" or any(a.split("=")[0] in SHAPE_FLAGS for a in tr.extra_args):
        return None
    folder = show.resolve(show.model.path)
    try:
        card = read_card(folder)
    except CheckpointError:
        return None
    wanted = TrainConfig(arch="fewshot", resolution=resolution).generator_config()
    return folder if card.architecture == "fewshot" and card.config == wanted else None


def trainer_env(show: Show) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(show.training.threads)
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, PYTHONUNBUFFERED="1")
    if show.training.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def build_trainer(show: Show, stats: StatsWriter) -> TrainerSupervisor:
    tr = show.training
    out = show.resolve(tr.out)
    return TrainerSupervisor(
        lambda: trainer_command(show),
        log_path=out / "train.log",
        env=trainer_env(show),
        cwd=show.base_dir,
        nice=tr.nice,
        cpu_share=tr.cpu_share,
        on_event=stats.event,
    )
