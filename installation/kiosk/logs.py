"""Logging that never makes the render thread wait on a disk.

`install_kiosk_logging` puts a `QueueHandler` on the root logger: a record is put on an
in-memory queue (no I/O, no lock held for long) and a `QueueListener` thread writes it to
a rotating file. A message repeated back to back (the same logger, level and text) is
folded: the first is written, the rest are counted and written once as
"... (N more times)" when a different message comes or a few seconds pass.
A small ring of recent lines feeds the health endpoint's /log.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
import time
from collections import deque
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FOLD_FLUSH_S = 5.0
QUEUE_LIMIT = 10_000  # beyond this records are dropped (and counted), never waited for


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """A QueueHandler on a bounded queue that drops instead of blocking when it is full."""

    def __init__(self, q: queue.Queue) -> None:
        super().__init__(q)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class FoldingHandler(logging.Handler):
    """Wraps a handler; back-to-back repeats become one line and a count."""

    def __init__(self, inner: logging.Handler, flush_s: float = FOLD_FLUSH_S) -> None:
        super().__init__()
        self.inner, self.flush_s = inner, flush_s
        self._last: tuple | None = None
        self._last_record: logging.LogRecord | None = None
        self._repeats = 0
        self._first_repeat = 0.0
        self.folded = 0

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "fold_tick", False):  # the clock: write a pending count that is due
            if self._repeats and time.monotonic() - self._first_repeat >= self.flush_s:
                self._flush_repeats()
            return
        key = (record.name, record.levelno, record.getMessage())
        if key == self._last:
            if self._repeats == 0:
                self._first_repeat = time.monotonic()
            self._repeats += 1
            self.folded += 1
            self._last_record = record
            if time.monotonic() - self._first_repeat >= self.flush_s:
                self._flush_repeats()
            return
        self._flush_repeats()
        self._last = key
        self.inner.handle(record)

    def _flush_repeats(self) -> None:
        if self._repeats and self._last_record is not None:
            record = self._last_record
            summary = logging.makeLogRecord(
                {
                    **record.__dict__,
                    "args": None,
                    "exc_info": None,
                    "msg": f"{record.getMessage()} ({self._repeats} more times)",
                }
            )
            self.inner.handle(summary)
        self._repeats = 0

    def flush(self) -> None:
        self._flush_repeats()
        self.inner.flush()

    def close(self) -> None:
        self.flush()
        self.inner.close()
        super().close()


class RingHandler(logging.Handler):
    """The last `size` formatted lines, for /log; deque appends are thread-safe."""

    def __init__(self, size: int = 500) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=size)
        self.last_error = ""
        self.setFormatter(logging.Formatter(FORMAT, "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "fold_tick", False):
            return
        line = self.format(record)
        self.lines.append(line)
        if record.levelno >= logging.ERROR:
            self.last_error = record.getMessage()


def _no_ticks(record: logging.LogRecord) -> bool:
    """The fold clock's tick is for FoldingHandler only."""
    return not getattr(record, "fold_tick", False)


class KioskLogging:
    """The installed handlers; `close()` removes them and flushes the file."""

    def __init__(
        self,
        file: Path | None,
        max_mb: float,
        backups: int,
        ring: RingHandler,
        take_over: bool = False,
    ) -> None:
        """`take_over`: move the root logger's own handlers (stderr, which under the
        supervisor is a pipe) behind the queue too, so no log call on any thread waits."""
        self.ring = ring
        self.take_over = take_over
        self._taken: list[logging.Handler] = []
        self._queue: queue.Queue = queue.Queue(QUEUE_LIMIT)
        self.handler = DroppingQueueHandler(self._queue)
        targets: list[logging.Handler] = [ring]
        self.fold: FoldingHandler | None = None
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            rotating = logging.handlers.RotatingFileHandler(
                file,
                maxBytes=int(max_mb * 1024 * 1024),
                backupCount=backups,
                encoding="utf-8",
                delay=True,
            )
            rotating.setFormatter(logging.Formatter(FORMAT, "%Y-%m-%d %H:%M:%S"))
            self.fold = FoldingHandler(rotating)
            targets.append(self.fold)
        self.listener = logging.handlers.QueueListener(
            self._queue, *targets, respect_handler_level=True
        )
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_now_and_then, name="kiosk-log-fold", daemon=True
        )

    def start(self) -> None:
        root = logging.getLogger()
        if self.take_over:
            self._taken = list(root.handlers)
            for handler in self._taken:
                root.removeHandler(handler)
                handler.addFilter(_no_ticks)
            self.listener.handlers = (*self.listener.handlers, *self._taken)
        root.addHandler(self.handler)
        self.listener.start()
        self._flusher.start()

    def _flush_now_and_then(self) -> None:
        # A repeat that is never followed by another message still gets its count written.
        while not self._stop.wait(FOLD_FLUSH_S):
            self.handler.enqueue(
                logging.makeLogRecord(
                    {"name": __name__, "fold_tick": True, "levelno": logging.CRITICAL, "msg": ""}
                )
            )

    def close(self) -> None:
        self._stop.set()
        root = logging.getLogger()
        root.removeHandler(self.handler)
        self.listener.stop()
        for handler in self._taken:
            handler.removeFilter(_no_ticks)
            root.addHandler(handler)
        if self.fold is not None:
            self.fold.close()
