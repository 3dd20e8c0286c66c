"""The show's state on disk: what plays (model, last known good model), the parameter
targets (which is where a recalled scene lives) and the walk's phase.

Saved atomically (files.atomic_write_bytes) by a background thread every few seconds, from
snapshots the render loop hands over whole; read back when the supervisor restarts the show.
A missing or unreadable state file is not an error: the show starts as show.yaml says.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from installation.files import atomic_write_bytes

log = logging.getLogger(__name__)

STATE_FILE = "state.json"


@dataclass(frozen=True)
class ShowState:
    model: str | None = None  # the folder that was playing
    last_good: str | None = None  # the folder that last played cleanly for good_after_s
    targets: dict[str, float] = field(default_factory=dict)
    phase: float = 0.0
    saved: float = 0.0  # wall-clock time of the save
    pid: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ShowState:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("state is not a JSON object")
        targets = {str(k): float(v) for k, v in dict(raw.get("targets") or {}).items()}
        return cls(
            model=raw.get("model") or None,
            last_good=raw.get("last_good") or None,
            targets=targets,
            phase=float(raw.get("phase") or 0.0),
            saved=float(raw.get("saved") or 0.0),
            pid=int(raw.get("pid") or 0),
        )


def read_state(folder: Path) -> ShowState | None:
    path = folder / STATE_FILE
    try:
        return ShowState.from_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring the saved state %s: %s", path, exc)
        return None


class StateSaver:
    """Writes the newest snapshot every `every_s` on its own thread when it changed; a failed
    write (a full disk) is logged once per kind and retried next time, and leaves the old
    file whole."""

    def __init__(self, folder: Path, every_s: float) -> None:
        self.folder, self.every_s = folder, every_s
        self.saves = self.failures = 0
        self._latest: ShowState | None = None
        self._written: ShowState | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    def offer(self, state: ShowState) -> None:
        """Called on the render thread: keeps only the newest (handed over whole)."""
        self._latest = state

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kiosk-state", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        self.save_now()  # the last state of a clean stop

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.save_now()

    def save_now(self) -> None:
        state = self._latest
        if state is None or (
            self._written is not None
            and replace(state, saved=0.0) == replace(self._written, saved=0.0)
        ):
            return  # nothing changed since the last save: no write (and no fsync) at all
        try:
            atomic_write_bytes(self.folder / STATE_FILE, state.to_json())
        except OSError as exc:
            self.failures += 1
            if str(exc) != self._last_error:
                self._last_error = str(exc)
                log.error("could not save the show state to %s: %s", self.folder, exc)
            return
        self._written = state
        self._last_error = ""
        self.saves += 1


def snapshot(
    model: str | None, last_good: str | None, targets: dict[str, float], phase: float, pid: int
) -> ShowState:
    return ShowState(
        model=model,
        last_good=last_good,
        targets=dict(targets),
        phase=phase,
        saved=time.time(),
        pid=pid,
    )
