"""What a training run leaves in its model folder, all written atomically by rank 0.

models/<name>/
  model.safetensors, card.json    the latest exported model (what a show plays / hot-swaps)
  train_state.safetensors         everything --resume needs (networks, optimizers, EMA,
                                  step, loss history, RNG), one file, no pickle
  checkpoints/step-NNNNNNN/       the last K exported models, each a loadable model folder
  samples/step-NNNNNNN.png        grids from the same fixed latents, comparable over time
  loss.png                        the loss curve so far
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import torch
from torch import nn

from installation.checkpoints import (
    CARD_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    ModelCard,
    _fsync_dir,
    read_card,
    save_checkpoint,
)
from installation.training.config import TrainConfig, TrainingError
from installation.training.state import STATE_FILE

log = logging.getLogger(__name__)

STEP_DIR = re.compile(r"^step-(\d+)$")


def check_output_folder(cfg: TrainConfig) -> None:
    """Refuse, before any work, to mix a run into a folder that holds something else."""
    folder = Path(cfg.out)
    if folder.exists() and not folder.is_dir():
        raise TrainingError(f"--out {folder} exists and is not a folder")
    has_card = (folder / CARD_FILE).exists()
    has_state = (folder / STATE_FILE).exists()
    if has_card:
        try:
            card = read_card(folder)
        except CheckpointError as exc:
            if not cfg.overwrite:
                raise TrainingError(
                    f"--out {folder} holds an unreadable model ({exc}); "
                    "pass --overwrite to replace it"
                ) from None
        else:
            if card.architecture != cfg.network and not cfg.overwrite:
                raise TrainingError(
                    f"--out {folder} holds a {card.architecture!r} model, and --arch {cfg.arch} makes "
                    f"{cfg.network!r}; choose another --out (or --overwrite to replace it)"
                )
    if cfg.resume:
        if not has_state:
            raise TrainingError(
                f"cannot resume: {folder / STATE_FILE} does not exist "
                "(train without --resume to start a new run)"
            )
    elif (has_card or has_state) and not cfg.overwrite:
        raise TrainingError(
            f"--out {folder} already holds a model; pass --resume to continue its training, "
            "--overwrite to start over, or choose another --out"
        )


def clear_previous_run(folder: Path) -> None:
    """For --overwrite: remove the old run's resume state, step folders, grids and curve, so
    they never mix with the new run's. The old model.safetensors/card.json stay until the
    first new checkpoint replaces them: a show playing this folder keeps playing."""
    folder = Path(folder)
    (folder / STATE_FILE).unlink(missing_ok=True)
    (folder / "loss.png").unlink(missing_ok=True)
    for sub in ("checkpoints", "samples"):
        shutil.rmtree(folder / sub, ignore_errors=True)


def export(
    cfg: TrainConfig, module: nn.Module, step: int, *, dataset: str, command: str, notes: str
) -> ModelCard:
    """Write the exported model at the top of the folder and as checkpoints/step-N."""
    folder = Path(cfg.out)
    dtype = torch.float16 if cfg.export_dtype == "fp16" else torch.float32
    try:
        card = save_checkpoint(
            folder,
            module,
            name=cfg.model_name,
            architecture=cfg.network,
            config=cfg.generator_config(exported=True),
            step=step,
            dataset=dataset,
            command=command,
            notes=notes,
            dtype=dtype,
        )
        if cfg.keep > 0:
            _archive(folder, step)
            prune(folder, cfg.keep)
    except OSError as exc:
        raise TrainingError(
            f"could not write the checkpoint for step {step} into {folder}: {exc.strerror or exc}; "
            "files already there are whole (writes are atomic)"
        ) from None
    return card


def _archive(folder: Path, step: int) -> None:
    """Copy the top-level model into checkpoints/step-N via a hidden temp folder and one
    rename, so a watcher never sees a step folder with one file in it."""
    root = folder / "checkpoints"
    root.mkdir(exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name in (WEIGHTS_FILE, CARD_FILE):
            shutil.copy2(folder / name, tmp / name)
            with open(tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(root)


def step_dirs(folder: Path) -> list[tuple[int, Path]]:
    root = Path(folder) / "checkpoints"
    if not root.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in root.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir()
    ]
    return sorted(found)


def prune(folder: Path, keep: int) -> None:
    for _, path in step_dirs(folder)[:-keep] if keep > 0 else step_dirs(folder):
        shutil.rmtree(path, ignore_errors=True)
        log.debug("pruned %s", path)
