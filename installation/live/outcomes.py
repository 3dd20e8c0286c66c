"""The outcome events of candidate checkpoints (issue 16: drops were silently discarded).

Every checkpoint the watcher reports gets exactly one outcome in the stats: `reject` (with a
reason naming its folder), a `swap` when it plays, or `superseded` naming what superseded it
(a newer checkpoint, or the same weights already playing). The service decides; these write.
"""

from __future__ import annotations

import logging
import time

from installation.checkpoints import LoadedModel, ModelCard
from installation.stats import StatsWriter

log = logging.getLogger(__name__)


def superseded(stats: StatsWriter, model: LoadedModel, by: LoadedModel, why: str) -> None:
    log.info(
        "superseded %s v%d (%s) by %s v%d (%s): %s",
        *(model.id, model.version, model.folder, by.id, by.version, by.folder, why),
    )
    stats.event(
        "superseded",
        t=time.monotonic(),
        folder=str(model.folder),
        model=model.describe(),
        by={"folder": str(by.folder), "model": by.describe()},
        reason=why,
    )


def already_playing(stats: StatsWriter, folder: object, card: ModelCard) -> None:
    log.info("%s holds the weights already playing", folder)
    model = {"id": card.name, "version": card.step}
    stats.event(
        "superseded",
        t=time.monotonic(),
        folder=str(folder),
        model=model,
        by={"folder": "(playing)", "model": model},
        reason="the same weights are already playing",
    )
