"""Builds the show's instrument from show.yaml's `performance:` section, the scene file and
the record/replay options; everything that can be wrong with those files is found here,
before any window opens."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

from installation.checkpoints import LoadedModel
from installation.config.show import Show
from installation.events import EventQueue
from installation.instruments.directions import load_directions, w_width
from installation.instruments.instrument import Instrument
from installation.instruments.link import LinkService, link_available
from installation.instruments.record import Recorder, Replay
from installation.instruments.scenes import load_scenes, parse_scenes
from installation.navigator import Navigator
from installation.params import Registry
from installation.training.progress import Progress

log = logging.getLogger(__name__)


def build_instrument(
    show: Show,
    registry: Registry,
    model: LoadedModel,
    *,
    record: Path | None = None,
    replay: Path | None = None,
) -> Instrument:
    perf = show.performance
    path = show.resolve(perf.scene_file)
    replayed = Replay(replay) if replay is not None else None
    if replayed is not None and "scenes" in replayed.header:
        # The scenes as they were when the log began, so a replay does what the show did
        # whatever the scene file says now (and never rewrites it).
        book = parse_scenes(
            replayed.header["scenes"],
            path,
            registry,
            model.latent_dim,
            model.id,
            source=f"{replay}: its scenes",
            model_sha=model.card.sha256,
        )
    else:
        book = load_scenes(path, registry, model.latent_dim, model.id, model.card.sha256)
    book.read_only = replayed is not None
    header = {"model": model.id, "latent_dim": model.latent_dim, "scenes": book.to_data()}
    recorder = Recorder(record, header) if record else None
    directions, why = load_directions(model.folder, model.latent_dim, w_width(model.module))
    if directions is None:
        log.info("%s", why)
    nav = show.navigator
    return Instrument(
        registry,
        perf,
        book,
        Navigator(model.latent_dim, nav.seed, nav.mode, nav.easing),
        model.id,
        recorder=recorder,
        replay=replayed,
        directions=directions,
        model=model,
        base_dir=show.base_dir,
    )


def build_link(events: EventQueue) -> LinkService | None:
    """Ableton Link when its extra is installed; otherwise a warning and the show plays on."""
    if not link_available():
        log.warning(
            "performance.link is on but aalink is missing: pip install 'installation[link]'"
        )
        return None
    return LinkService(events)


def offline_show(show: Show) -> Show:
    """The show as an offline render plays it: no live input, no hot-swap, no training, so
    the replay alone decides what happens."""
    off = {"enabled": False}
    return show.model_copy(
        update={
            "osc": show.osc.model_copy(update=off),
            "midi": show.midi.model_copy(update=off),
            "hotswap": show.hotswap.model_copy(update=off),
            "training": show.training.model_copy(update=off),
        }
    )


def render_frames(instrument: Instrument, fps: float, seconds: float | None) -> int:
    """How many frames an offline render of the replay (or of `seconds`) makes."""
    length = (
        seconds if seconds is not None else (instrument.replay.end if instrument.replay else 0.0)
    )
    return max(1, math.floor(length * fps + 1e-9) + 1)


class RenderProgress:
    """A status sink that draws the offline render's progress bar."""

    def __init__(self, total: int) -> None:
        self.bar = Progress(total, desc="render", unit="frame")

    def __call__(self, status: Mapping[str, object]) -> None:
        frame = status.get("frame", 0)
        self.bar.update(int(frame) if isinstance(frame, int | float) else 0)

    def close(self) -> None:
        self.bar.update(self.bar.total)
        self.bar.close()
