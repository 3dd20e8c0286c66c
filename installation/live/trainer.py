"""The background trainer of a show: its `installation train` command line, its environment
and its supervisor (a low-priority child process that learns while the show plays)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from installation.checkpoints import CheckpointError, ModelCard, read_card
from installation.live.supervisor import TrainerSupervisor
from installation.stats import StatsWriter
from installation.training.config import TrainConfig, shape_differences
from installation.training.state import STATE_FILE

if TYPE_CHECKING:
    from installation.config.show import Show


def trainer_command(show: Show) -> list[str]:
    """`installation train ...` for the show's training section (resuming when it can)."""
    tr = show.training
    out = show.resolve(tr.out)
    dataset = tr.dataset if tr.dataset.startswith("synthetic:") else str(show.resolve(tr.dataset))
    card = _transfer_card(show)
    resolution = tr.resolution or _default_resolution(show, card)
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
    elif card is not None and _fits(card, resolution):
        argv += [*_head_args(card), "--init-from", str(show.resolve(show.model.path))]
    return argv


SHAPE_FLAGS = ("--width", "--preset", "--latent-dim", "--channels", "--head")
# A field head draws at any size, so a run that starts from one trains at this size (the
# shipped default's recipe: half the cost of a step at 256) and exports at the model's own.
FIELD_TRAINING_RESOLUTION = 128


def _transfer_card(show: Show) -> ModelCard | None:
    """The show's own model's card, when a few-shot run may start from it (transfer)."""
    tr = show.training
    if tr.architecture != "fewshot" or not tr.transfer:
        return None
    if any(a.split("=")[0] in SHAPE_FLAGS for a in tr.extra_args):
        return None
    try:
        card = read_card(show.resolve(show.model.path))
    except CheckpointError:
        return None
    return card if card.architecture == "fewshot" else None


def _field_head(card: ModelCard | None) -> bool:
    return card is not None and card.config.get("head") == "field"


def _head_args(card: ModelCard) -> list[str]:
    """A run that starts from a field-head model keeps the head, and exports at its size."""
    if not _field_head(card):
        return []
    return ["--head", "field", "--play-resolution", str(card.resolution)]


def _default_resolution(show: Show, card: ModelCard | None) -> int:
    """The architecture's default size; for a few-shot run that may start from the show's own
    few-shot model (`card`: transfer), that model's size, so the transfer is not lost to a
    default."""
    if _field_head(card):
        return min(card.resolution, FIELD_TRAINING_RESOLUTION)
    if card is not None:
        return card.resolution
    return TrainConfig(arch=show.training.architecture).resolved().resolution


def _fits(card: ModelCard, resolution: int) -> bool:
    """Whether a new few-shot run at `resolution` can start from the model of `card`: the
    shape this run will build (else `installation train --init-from` would refuse)."""
    wanted = TrainConfig(
        arch="fewshot", resolution=resolution, head="field" if _field_head(card) else None
    ).generator_config(exported=True)
    return not shape_differences(wanted, card.config)


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
        threads=tr.threads,
        on_event=stats.event,
    )


def schedule_share(
    supervisor: TrainerSupervisor, show: Show, outside_threads: int | None
) -> Callable[[bool], None]:
    """The kiosk schedule's hook (kiosk/schedule.py): outside show hours the trainer may use
    the whole machine (every core, or `outside_threads`, and no duty cycle); when the show
    opens it goes back to its `training.threads` and `training.cpu_share`."""
    tr = show.training

    def on_hours(inside: bool) -> None:
        if inside:
            supervisor.set_share(tr.threads, tr.cpu_share)
        else:
            supervisor.set_share(outside_threads or os.cpu_count() or 1, 1.0)

    return on_hours
