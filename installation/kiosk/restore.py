"""What a show started by the kiosk supervisor plays: the spec the supervisor handed its
child (fallback level, last error, restarts) and the saved state, turned into a Show and
the run's overrides. Torch-free: the CLI calls it before anything heavy starts.

Levels (kiosk/supervisor.py): 0 the show as saved (its model and parameter state), 1 the
last known good model, 2 the default show (the shipped model, no controllers, no
training; the user's display settings if the file still reads), 3 a still frame.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from installation.config.base import ShowError
from installation.config.show import Show, load_show, parse_show
from installation.kiosk.state import ShowState, read_state

log = logging.getLogger(__name__)

SPEC_ENV = "INSTALLATION_KIOSK_SPEC"
STILL = 3


@dataclass(frozen=True)
class KioskSpec:
    level: int = 0
    error: str = ""
    restarts: int = 0
    state_dir: str = ""


@dataclass
class Restored:
    """The run's kiosk overrides (app.RunOptions takes them)."""

    model_path: Path | None = None
    targets: dict[str, float] = field(default_factory=dict)
    phase: float = 0.0
    last_good: str | None = None


def kiosk_spec() -> KioskSpec | None:
    """The supervisor's spec when this process is a kiosk child, else None."""
    raw = os.environ.get(SPEC_ENV)
    if not raw:
        return None
    data = json.loads(raw)
    return KioskSpec(
        level=int(data.get("level", 0)),
        error=str(data.get("error", "")),
        restarts=int(data.get("restarts", 0)),
        state_dir=str(data.get("state_dir", "")),
    )


def state_dir(show: Show) -> Path:
    return show.resolve(show.kiosk.state_dir)


def default_show(path: Path) -> Show:
    """Level 2: the safest show there is, on the user's display if their file still reads."""
    display: dict = {}
    kiosk: dict = {}
    try:
        user = load_show(path)
        display = user.display.model_dump(mode="json")
        kiosk = user.kiosk.model_dump(mode="json")
    except ShowError as exc:
        log.error("the show file cannot be read (%s); the default show plays", exc)
    data = {
        "display": display,
        "kiosk": kiosk,
        "osc": {"enabled": False},
        "midi": {"enabled": False},
        "hotswap": {"enabled": False},
        "training": {"enabled": False},
    }
    return parse_show(data, "the default show", path.parent)


def prepare(path: Path, spec: KioskSpec) -> tuple[Show | None, Restored]:
    """(the show to play, or None for the still frame; what to restore into it)."""
    if spec.level >= STILL:
        return None, Restored()
    if spec.level == 2:
        return default_show(path), Restored()
    show = load_show(
        path
    )  # a ShowError here ends this child with the message: the supervisor counts it
    saved = read_state(state_dir(show)) or ShowState()
    folder = saved.model if spec.level == 0 else saved.last_good
    restored = Restored(
        model_path=Path(folder) if folder else None,
        targets=dict(saved.targets),
        phase=saved.phase,
        last_good=saved.last_good,
    )
    if spec.level == 1 and not folder:
        log.warning("no last known good model was saved yet; playing the show's own model")
    return show, restored
