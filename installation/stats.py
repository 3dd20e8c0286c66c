"""The stats contract: JSON Lines, one object per presented frame and one per event.

Frame lines carry at least frame, t, frame_ms, gen_ms, present_ms, model and params;
event lines carry "event", `t` and whatever the event adds. Benchmarks and tests read this.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import IO, Any


class StatsWriter:
    """Append-only JSONL writer. Thread-safe, so off-thread parts can log events."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "w", encoding="utf-8", buffering=1 << 16)

    @property
    def enabled(self) -> bool:
        return self._fh is not None

    def _write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            return
        line = json.dumps(record, separators=(",", ":"), allow_nan=False, default=str)
        with self._lock:
            self._fh.write(line + "\n")
            # Flushed per line so a reader (a test, a benchmark, `tail -f`) sees it live.
            self._fh.flush()

    def frame(self, **fields: Any) -> None:
        self._write(fields)

    def event(self, name: str, **fields: Any) -> None:
        """An event line. Every one has `t`: the caller's (the loop's clock) or time.monotonic()."""
        fields.setdefault("t", time.monotonic())
        self._write({"event": name, **fields})

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def read_stats(path: Path) -> tuple[list[dict], list[dict]]:
    """(frame lines, event lines) of a stats file."""
    frames, events = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            (events if "event" in record else frames).append(record)
    return frames, events
