"""One output's thread: a bounded queue of frames in, its library out, failures contained.

The render thread calls `wants(now)` and `put(pool, index)`; neither blocks. The queue holds
one to three frames; when a receiver is slow or gone and the queue is full, the oldest frame
is dropped and counted (a stale frame is worth less than the newest). Everything slow (the
library's open, scaling, conversion, send) happens here. An adapter that raises is closed,
the message logged, and it is opened again after a back-off (1, 2, 4 ... 30 s); an error
that retrying cannot fix (a full disk) stops the output for good. The show goes on.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from installation.render.encoder import DiskFull, FolderNotWritable
from installation.render.outputs.base import Adapter
from installation.render.outputs.frames import Converter, FramePool

log = logging.getLogger(__name__)

FINAL_ERRORS: tuple[type[BaseException], ...] = (DiskFull, FolderNotWritable)


# Output threads run at this nice value (Linux keeps one per thread, and the threads a
# library starts from ours, x264's or NDI's, inherit it): when the CPU is short, the render
# thread gets it first and the output drops a frame, which is counted, instead.
OUTPUT_NICE = 10


def _lower_priority() -> None:
    try:
        me = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, me) < OUTPUT_NICE:  # never raise it
            os.setpriority(os.PRIO_PROCESS, me, OUTPUT_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


class OutputWorker:
    def __init__(
        self,
        label: str,
        make_adapter: Callable[[], Adapter],
        converter: Converter,
        *,
        name: str,
        fps: float,
        queue: int = 2,
        source: str = "display",
        backoff: tuple[float, float] = (1.0, 30.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert 1 <= queue <= 3, "an output queue holds one to three frames"
        self.label, self.name, self.source = label, name, source
        self.make_adapter, self.converter = make_adapter, converter
        self.fps, self.queue_size = fps, queue
        self.backoff, self.clock = backoff, clock
        self.sent = self.dropped = self.failures = 0
        self.state = "starting"  # starting | running | retrying | stopped
        self.message = ""
        self.seen_as = name  # the name receivers see, once the adapter has opened
        self.receivers: int | None = None
        self._receivers_at = 0.0
        self._queue: collections.deque[tuple[FramePool, int, dict]] = collections.deque()
        self._cond = threading.Condition()
        self._stop = False
        self._next_due = float("-inf")
        self.sent_any = False  # whether wants() has accepted a frame yet
        self._retry_at = 0.0
        self._delay = backoff[0]
        self._fps_ema = 0.0
        self._last_send: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"output {label}", daemon=True)

    # -- render thread side (never blocks) -------------------------------------------------
    def wants(self, now: float) -> bool:
        """Whether this output takes the frame shown at `now` (rate cap, and not down)."""
        if self.state in ("stopped", "retrying"):
            return False
        if self.fps > 0:
            # A grid of due times 1/fps apart; a frame a quarter period early still counts
            # (frames jitter), and a late one does not make the next ones crowd in.
            period = 1.0 / self.fps
            if now + 0.25 * period < self._next_due:
                return False
            self._next_due = (
                max(self._next_due + period, now - 0.5 * period) if self.sent_any else now + period
            )
            self.sent_any = True
        return True

    def put(self, pool: FramePool, index: int, meta: dict | None = None) -> None:
        with self._cond:
            self._queue.append((pool, index, meta or {}))
            if len(self._queue) > self.queue_size:
                old_pool, old_index, _ = self._queue.popleft()
                old_pool.release(old_index)
                self.dropped += 1
            self._cond.notify()

    def count_drop(self) -> None:
        self.dropped += 1

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("output %s did not stop within %.0f s", self.label, timeout)

    # -- the output's thread -----------------------------------------------------------------
    def _run(self) -> None:
        _lower_priority()
        adapter: Adapter | None = None
        try:
            while True:
                item = self._next_item(adapter is None)
                if item is None:
                    break
                if adapter is None and self.state != "stopped":  # stopped for good: no reopen
                    adapter = self._open()
                if adapter is not None and item != ():
                    adapter = self._send(adapter, *item)
                if item != ():
                    item[0].release(item[1])
        finally:
            self._drain()
            if adapter is not None:
                self._close(adapter)
            if self.state != "stopped":
                self.state = "stopped"

    def _next_item(self, opening: bool):
        """The next frame; () when it is time to (re)open; None when stopping."""
        with self._cond:
            while True:
                if self._stop and (opening or not self._queue):  # queued frames still go out
                    return None
                if (
                    opening
                    and self.state in ("starting", "retrying")
                    and self.clock() >= self._retry_at
                ):
                    return ()
                if self._queue:
                    return self._queue.popleft()
                wait = (
                    max(0.0, self._retry_at - self.clock())
                    if opening and self.state == "retrying"
                    else None
                )
                self._cond.wait(wait if wait is not None else 1.0)

    def _open(self) -> Adapter | None:
        try:
            adapter = self.make_adapter()
            seen = adapter.open(self.name, self.converter.out_size, self.fps)
        except Exception as exc:  # noqa: BLE001 - any library failure: contain, retry
            self._failed(exc, "open")
            return None
        self.seen_as = seen or self.name
        log.info("output %s is sending as %r", self.label, self.seen_as)
        self.state, self.message = "running", ""
        return adapter

    def _send(self, adapter: Adapter, pool: FramePool, index: int, meta: dict) -> Adapter | None:
        try:
            pixels = self.converter(pool.frames[index], pool.views[index])
            adapter.send(pixels, **meta)
            if self.clock() >= self._receivers_at:  # asking the library costs: once a second
                self._receivers_at = self.clock() + 1.0
                self.receivers = adapter.connections()
        except Exception as exc:  # noqa: BLE001 - contain it: the show goes on
            self._close(adapter)
            self._failed(exc, "send")
            return None
        self.sent += 1
        self._delay = self.backoff[0]  # it works again: the next failure starts the back-off anew
        now = self.clock()
        if self._last_send is not None and now > self._last_send:
            rate = 1.0 / (now - self._last_send)
            self._fps_ema = (
                rate if not self._fps_ema else self._fps_ema + 0.1 * (rate - self._fps_ema)
            )
        self._last_send = now
        return adapter

    def _failed(self, exc: BaseException, during: str) -> None:
        self.failures += 1
        self.message = str(exc) or type(exc).__name__
        if isinstance(exc, FINAL_ERRORS):
            self.state = "stopped"
            log.error("output %s stopped (%s); the show goes on", self.label, self.message)
            self._drain()  # (frames queued meanwhile are let go, never a new take)
            return
        self.state = "retrying"
        self._retry_at = self.clock() + self._delay
        log.error(
            "output %s failed to %s (%s); retrying in %.3g s; the show goes on",
            self.label,
            during,
            self.message,
            self._delay,
        )
        self._delay = min(self._delay * 2, self.backoff[1])
        self._drain()

    def _close(self, adapter: Adapter) -> None:
        try:
            adapter.close()
        except Exception as exc:  # noqa: BLE001
            if self.state != "stopped" and isinstance(exc, FINAL_ERRORS):
                self.state, self.message = "stopped", str(exc)
            log.error("output %s: closing failed: %s", self.label, exc)

    def _drain(self) -> None:
        with self._cond:
            while self._queue:
                pool, index, _ = self._queue.popleft()
                pool.release(index)

    # -- reporting ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "kind": self.label.split(":")[0],
            "name": self.seen_as,
            "state": self.state,
            "sent": self.sent,
            "dropped": self.dropped,
            "failures": self.failures,
            "fps": round(self._fps_ema, 2),
            "receivers": self.receivers,
            "message": self.message,
        }

    def hud_line(self) -> str:
        line = f"{self.label} {self.state}"
        if self.state == "running":
            line = f"{self.label} {self._fps_ema:4.1f} fps"
            if self.receivers is not None:
                line += f"  {self.receivers} receiver{'s' if self.receivers != 1 else ''}"
        line += f"  dropped {self.dropped}"
        if self.message:
            line += f"  ({self.message[:60]})"
        return line
