"""A progress bar for long work: one redrawn line on a terminal, a log line elsewhere.

On a terminal it redraws at most a few times a second; when stderr is a file or a pipe
(a background run logging to a file) it writes a plain log line every `log_every` seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("installation.training")


def _fmt_time(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    def __init__(
        self,
        total: int,
        initial: int = 0,
        desc: str = "train",
        enabled: bool = True,
        stream: TextIO | None = None,
        log_every: float = 30.0,
        unit: str = "step",
    ) -> None:
        self.total, self.desc, self.enabled, self.unit = total, desc, enabled, unit
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self.start = time.monotonic()
        self.initial = initial
        self._last_draw = 0.0
        self._drew = False

    def line(self, done: int, fields: dict[str, float] | None = None, rate: str = "") -> str:
        frac = min(1.0, done / max(1, self.total))
        width = 24
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        elapsed = time.monotonic() - self.start
        speed = (done - self.initial) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / speed if speed > 0 else 0.0
        parts = [f"{self.desc} [{bar}] {done}/{self.total} {self.unit}s"]
        parts += [f"{k} {v:.3f}" for k, v in (fields or {}).items()]
        if rate:
            parts.append(rate)
        parts.append(f"{_fmt_time(elapsed)}<{_fmt_time(eta)}")
        return "  ".join(parts)

    def update(self, done: int, fields: dict[str, float] | None = None, rate: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = done >= self.total
        interval = 0.2 if self.tty else self.log_every
        if not final and now - self._last_draw < interval:
            return
        self._last_draw = now
        text = self.line(done, fields, rate)
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
            self._drew = True
        else:
            log.info("%s", text)

    def close(self) -> None:
        if self.enabled and self.tty and self._drew:
            self.stream.write("\n")
            self.stream.flush()
