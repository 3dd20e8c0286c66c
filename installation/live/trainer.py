"""The background trainer of a show: its `installation train` command line, its environment
and its supervisor (a low-priority child process that learns while the show plays)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from installation.live.supervisor import TrainerSupervisor
from installation.stats import StatsWriter
from installation.training.state import STATE_FILE

if TYPE_CHECKING:
    from installation.config.show import Show


def trainer_command(show: Show) -> list[str]:
    """`installation train ...` for the show's training section (resuming when it can)."""
    tr = show.training
    out = show.resolve(tr.out)
    dataset = tr.dataset if tr.dataset.startswith("synthetic:") else str(show.resolve(tr.dataset))
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
        str(tr.resolution),
        "--batch",
        str(tr.batch),
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
    return argv


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
