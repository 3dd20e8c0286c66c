"""Record a show's control events as JSON Lines, and play them back.

One line per event, readable and greppable:

    {"t": 0.0, "event": "start", "version": 1, "model": "default-gan"}
    {"t": 1.25, "event": "control", "target": "walk.speed", "value": 0.5, "source": "osc:..."}
    {"t": 2.0, "event": "tempo", "bpm": 120.0, "beat": 4.0, "running": true, "source": "midi clock"}
    {"t": 9.5, "event": "end"}

`t` is seconds since the show's first frame, in the loop's clock, so a replay applies each
event at the same show time whatever the frame rate. Events are recorded after the OSC and
MIDI mappers (MIDI takeover already applied) and before the instruments, so a replay runs
them through the same followers, morphs and tempo. A line that is not JSON, or an event
kind this version does not know, is skipped and counted.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from installation.errors import UserError
from installation.events import ControlEvent

log = logging.getLogger(__name__)

VERSION = 1
KINDS = ("start", "control", "tempo", "end")


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None  # NaN ("no value") as null


class Recorder:
    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = path.open("w", encoding="utf-8")
        self.lines = 0
        self.last_t = 0.0
        self._write({"t": 0.0, "event": "start", "version": VERSION, **(header or {})})

    def _write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            return
        self._fh.write(json.dumps(record, separators=(", ", ": ")) + "\n")
        self.lines += 1

    def control(self, t: float, e: ControlEvent) -> None:
        record: dict[str, Any] = {
            "t": round(t, 6),
            "event": "control",
            "target": e.target,
            "value": _number(e.value),
        }
        if e.normalized:
            record["normalized"] = True
        if e.relative:
            record["relative"] = True
        if e.text:
            record["text"] = e.text
        record["source"] = e.source
        self.last_t = t
        self._write(record)

    def tempo(self, t: float, bpm: float, beat: float, running: bool, source: str) -> None:
        self.last_t = t
        self._write(
            {
                "t": round(t, 6),
                "event": "tempo",
                "bpm": round(bpm, 6),
                "beat": round(beat, 6),
                "running": running,
                "source": source,
            }
        )

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()  # once a frame: a crash loses at most a frame of events

    def close(self, t: float | None = None) -> None:
        if self._fh is None:
            return
        self._write({"t": round(self.last_t if t is None else t, 6), "event": "end"})
        self._fh.close()
        self._fh = None


@dataclass(frozen=True)
class LogLine:
    t: float
    kind: str
    data: dict[str, Any]

    def event(self) -> ControlEvent:
        d = self.data
        value = d.get("value")
        return ControlEvent(
            str(d["target"]),
            math.nan if value is None else float(value),
            normalized=bool(d.get("normalized", False)),
            relative=bool(d.get("relative", False)),
            source=f"replay:{d.get('source', '')}",
            text=str(d.get("text", "")),
        )


class Replay:
    """A recorded log, handed out in time order: `due(t)` gives the lines up to show time t."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[LogLine] = []
        self.header: dict[str, Any] = {}  # the start line: model, the scene book at the start
        self.skipped = 0
        self.end = 0.0
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot read the replay log ({exc})") from None
        for number, raw in enumerate(text.splitlines(), 1):
            line = self._parse(raw)
            if line is None:
                if raw.strip():
                    self.skipped += 1
                    log.debug("%s:%d: skipped: %s", path, number, raw[:80])
                continue
            self.end = max(self.end, line.t)
            if line.kind == "start" and not self.header:
                self.header = line.data
            if line.kind in ("control", "tempo"):
                self.lines.append(line)
        self.lines.sort(key=lambda line: line.t)  # stable: same-time events keep their order
        self._next = 0
        if self.skipped:
            log.warning(
                "%s: %d line(s) skipped (not JSON, or events this version does not know)",
                path,
                self.skipped,
            )

    @staticmethod
    def _parse(raw: str) -> LogLine | None:
        try:
            d = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(d, dict) or d.get("event") not in KINDS:
            return None
        t = d.get("t")
        if not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            return None
        kind = d["event"]
        try:
            if kind == "control" and not isinstance(d["target"], str):
                return None
            if kind == "tempo":
                float(d["bpm"]), float(d["beat"])
        except (KeyError, TypeError, ValueError):
            return None
        return LogLine(float(t), kind, d)

    def due(self, t: float) -> list[LogLine]:
        start = self._next
        while self._next < len(self.lines) and self.lines[self._next].t <= t + 1e-9:
            self._next += 1
        return self.lines[start : self._next]

    @property
    def finished(self) -> bool:
        return self._next >= len(self.lines)
