"""Training GAN, VAE and MLP generators: datasets, trainers, checkpoints, DDP.

The API for running a trainer in-process (from a thread of a show, or a child process):

    from installation.training import TrainConfig, run_training
    stop, pause = threading.Event(), threading.Event()
    cfg = TrainConfig(arch="gan", dataset="my_images/", out=Path("models/mine"), steps=5000)
    result = run_training(cfg, stop=stop, pause=pause, on_checkpoint=lambda folder, card: ...)

`stop.set()` ends training after the current step and saves; `pause.set()` waits between
steps until cleared. `on_checkpoint(folder, card)` runs on the training thread after each
exported checkpoint is complete on disk.
"""

from __future__ import annotations

from typing import Any

# Imported lazily, so that `installation --help` (which registers the train command from
# installation.training.cli) does not pay for importing torch.
_EXPORTS = {
    "TrainConfig": "installation.training.config",
    "TrainingError": "installation.training.config",
    "DatasetError": "installation.training.data",
    "TrainResult": "installation.training.trainer",
    "install_signal_handlers": "installation.training.trainer",
    "run_training": "installation.training.trainer",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
