"""All of a show's video outputs and its screenshot writer, as the render loop sees them.

The loop hands the hub two kinds of frame, and the hub copies each at most once:
- `native(pixels)`: the renderer's host frame (on CUDA the one host copy display already
  uses), for outputs with `size: native` or a scaled size;
- `display(view)`: the window's picture after scaling, before the HUD, for outputs with
  `size: display` and for screenshots. `wants_display()` says whether to grab it at all.
Everything after the copy runs on each output's own thread (worker.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from installation.render.outputs.frames import AV_FORMATS, Converter, FramePool
from installation.render.outputs.shots import ScreenshotWriter
from installation.render.outputs.worker import OutputWorker

log = logging.getLogger(__name__)


class OutputHub:
    def __init__(
        self,
        workers: Sequence[OutputWorker],
        *,
        display_size: tuple[int, int],
        native_size: tuple[int, int],
        src_format: str,
        screenshots: ScreenshotWriter | None = None,
        stats_event: Callable[..., None] | None = None,
    ) -> None:
        self.workers = list(workers)
        self.screenshots = screenshots
        self._stats_event = stats_event
        self._stats_at = time.monotonic()
        self._shots: list[Path] = []
        self.shots_refused = 0
        by_source = {"display": display_size, "native": native_size}
        self._pools: dict[str, FramePool] = {}
        for source, size in by_source.items():
            takers = [w for w in self.workers if w.source == source]
            if takers:
                # Each taker may hold queue + 1 frames (queued and the one it is sending).
                count = sum(w.queue_size + 1 for w in takers) + 1
                self._pools[source] = FramePool(*size, src_format, count)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        if self.screenshots is not None:
            self.screenshots.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.screenshots is not None:
            self.screenshots.stop()
        self._write_stats(final=True)

    # -- render thread -----------------------------------------------------------------------
    def wants_display(self) -> bool:
        return bool(self._shots) or any(w.source == "display" for w in self.workers)

    def native(self, pixels: np.ndarray, now: float | None = None) -> None:
        self._offer("native", pixels, now)

    def display(self, view: np.ndarray, now: float | None = None) -> None:
        self._offer("display", view, now)

    def screenshot(self, path: Path) -> bool:
        """Ask for the next displayed frame as a PNG at `path`; False when none can be taken."""
        if self.screenshots is None or self.screenshots.state != "running":
            self.shots_refused += 1
            return False
        self._shots.append(path)
        return True

    def _offer(self, source: str, pixels: np.ndarray, now: float | None) -> None:
        if source == "display" and self._shots:
            assert self.screenshots is not None  # straight to the writer process (shots.py)
            shots, self._shots = self._shots, []
            for path in shots:
                if not self.screenshots.take(pixels, path):
                    self.shots_refused += 1
        pool = self._pools.get(source)
        if pool is None:
            return
        now = time.monotonic() if now is None else now
        takers = [w for w in self.workers if w.source == source and w.wants(now)]
        if not takers:
            return
        index = pool.fill(pixels, len(takers))
        if index is None:  # every buffer is held by slow outputs: this frame is dropped
            for worker in takers:
                worker.count_drop()
            return
        for worker in takers:
            worker.put(pool, index)

    # -- reporting ---------------------------------------------------------------------------
    def status(self) -> dict[str, dict[str, Any]]:
        return {w.label: w.status() for w in self.workers}

    def hud_lines(self) -> list[str]:
        return [w.hud_line() for w in self.workers]

    def on_status(self, _status: dict[str, object]) -> None:
        if self.screenshots is not None:
            self.screenshots.poll()  # log what the writer saved
        if time.monotonic() - self._stats_at >= 5.0:
            self._write_stats()

    def _write_stats(self, final: bool = False) -> None:
        self._stats_at = time.monotonic()
        if self._stats_event is not None and self.workers:
            self._stats_event("outputs_final" if final else "outputs", outputs=self.status())


def source_format(pygame_format: str) -> str:
    """FFmpeg's name for the display's byte order ("BGRA" -> "bgra"; the pad byte is A)."""
    name = pygame_format.lower()
    if name not in ("bgra", "rgba", "argb", "abgr"):
        raise ValueError(f"unexpected pixel layout {pygame_format}")
    return name


def converter_for(
    out_size: tuple[int, int],
    src_size: tuple[int, int],
    src_format: str,
    pixel_format: str,
    fit: str,
    src_opaque: bool,
) -> Converter:
    assert pixel_format in AV_FORMATS, pixel_format
    return Converter(src_size, src_format, out_size, pixel_format, fit, src_opaque)
