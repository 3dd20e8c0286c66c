"""The screenshot writer: a process of its own, fed by the render thread through shared memory.

Why a process: a writer thread, however little it does, costs the render thread its frame.
Waking it hands it the GIL; on a loaded machine the OS may then run something else while it
holds it, and the render thread waits (measured on the 2-core development machine: a
screenshot frame's present took ~8 ms where a frame without one took 0.7, with a writer
thread that did nothing at all). Here the render thread copies the picture into a free slot
of shared memory and writes a few bytes to a pipe; no thread of the show's process wakes.
The child (nice 10) converts to RGB and writes the PNG through the one encoder
(encoder.write_png, atomic). It is started with the show, on a helper thread (a spawn from
a process holding torch takes ~0.4 s: never on the render thread); until it runs, and if it
dies, the loop saves a screenshot itself (a stall, but no shot lost). Results (saved path or error) come back on a second pipe and are logged by the show's
process when it next asks (`poll`, at each screenshot and status tick).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _writer_main(shm_name: str, size, src_format: str, busy, requests, results) -> None:
    import av

    from installation.render.encoder import EncoderError, png_context, write_png
    from installation.render.outputs.frames import plane_view

    try:
        os.nice(10)  # yield the CPU to the show
    except OSError:
        pass
    shm = shared_memory.SharedMemory(name=shm_name)  # (the show's process unlinks it)
    w, h = size
    slot_bytes = w * h * 4
    src = av.VideoFrame(w, h, src_format)
    src_view = plane_view(src, (h, w, 4))
    reformatter, context = av.video.reformatter.VideoReformatter(), png_context(w, h)
    try:
        while (request := requests.recv()) is not None:
            slot, path = request
            picture = np.ndarray((h, w, 4), np.uint8, buffer=shm.buf, offset=slot * slot_bytes)
            np.copyto(src_view, picture)
            del picture
            busy[slot] = 0  # the slot is free again as soon as it is copied out
            rgb = reformatter.reformat(src, format="rgb24", threads=1)
            try:
                saved = write_png(path, plane_view(rgb, (h, w, 3)), context=context, av_frame=rgb)
            except EncoderError as exc:
                results.send(("failed", str(exc), os.getpid()))
            else:
                results.send(("saved", str(saved), os.getpid()))
    except (EOFError, KeyboardInterrupt):  # the show went away
        pass
    finally:
        shm.close()


class ScreenshotWriter:
    """`take(view, path)` on the render thread: copy and hand over, never wait."""

    def __init__(self, size: tuple[int, int], src_format: str, slots: int = 3) -> None:
        self.size, self.src_format, self.slots = size, src_format, slots
        self.state = "idle"  # idle | starting | running | stopped (it died or never started)
        self.message = ""
        self.saved: list[tuple[str, int]] = []  # (path, pid of the process that wrote it)
        self.failed = self.skipped = self._skips_logged = 0
        self._shm: shared_memory.SharedMemory | None = None
        self._process = self._requests = self._results = self._busy = None
        self._started = threading.Event()

    def start(self) -> None:
        """Start the writer on a helper thread; `take` refuses until it runs."""
        self.state = "starting"
        self._started.clear()
        threading.Thread(target=self._start, name="screenshot writer start", daemon=True).start()

    def _start(self) -> None:
        try:
            self._spawn()
            self.state = "running"
        except Exception as exc:  # noqa: BLE001 - the show goes on, saving shots itself
            self._died(f"the screenshot writer did not start ({exc})")
        finally:
            self._started.set()

    def _spawn(self) -> None:
        w, h = self.size
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
        self._shm = shared_memory.SharedMemory(create=True, size=self.slots * w * h * 4)
        np.frombuffer(self._shm.buf, np.uint8)[:] = 0  # touch every page now, not mid-show
        self._busy = ctx.Array("b", self.slots, lock=False)
        req_read, self._requests = ctx.Pipe(duplex=False)
        self._results, res_write = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_writer_main,
            args=(self._shm.name, self.size, self.src_format, self._busy, req_read, res_write),
            name="screenshot writer",
            daemon=True,
        )
        self._process.start()
        req_read.close()
        res_write.close()

    def take(self, view: np.ndarray, path: Path) -> bool:
        """Copy the window's picture ([H, W, 4], the display layout) for a PNG at `path`;
        False when it cannot be taken now (not running, or every slot still in use)."""
        if self.state != "running":
            return False
        free = next((i for i in range(self.slots) if not self._busy[i]), None)
        if free is None:  # the writer is still busy with earlier ones: this one is skipped
            self.skipped += 1  # (logged by poll at the next status tick: logging here costs
            return False  # the render thread up to ~10 ms on a loaded machine)
        w, h = self.size
        assert self._shm is not None
        slot = np.ndarray((h, w, 4), np.uint8, buffer=self._shm.buf, offset=free * w * h * 4)
        np.copyto(slot, view)
        del slot
        self._busy[free] = 1
        try:
            self._requests.send((free, str(path)))
        except OSError as exc:  # the child is gone
            self._died(f"the screenshot writer stopped ({exc})")
            return False
        return True

    def poll(self) -> None:
        """Log what the writer has finished; notice a writer that died."""
        if self.skipped > self._skips_logged:
            log.warning(
                "%d screenshot(s) skipped: the writer was still saving earlier ones",
                self.skipped - self._skips_logged,
            )
            self._skips_logged = self.skipped
        if self._results is None:
            return
        try:
            while self._results.poll():
                kind, text, pid = self._results.recv()
                if kind == "saved":
                    self.saved.append((text, pid))
                    log.info("screenshot saved to %s", text)
                else:
                    self.failed += 1
                    log.error("screenshot not saved: %s", text)
        except (EOFError, OSError):
            pass
        if self.state == "running" and not self._process.is_alive():
            self._died(f"the screenshot writer exited (code {self._process.exitcode})")

    def _died(self, message: str) -> None:
        self.state, self.message = "stopped", message
        log.error("%s; screenshots are saved on the render thread from now on", message)

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "saved": len(self.saved),
            "failed": self.failed,
            "skipped": self.skipped,
            "message": self.message,
        }

    def stop(self, timeout: float = 10.0) -> None:
        """Let the writer finish what it was given, then end it and free the memory."""
        if self.state == "starting":
            self._started.wait(timeout)
        if self._process is None:
            if self._shm is not None:
                self._shm.close()
                self._shm.unlink()
                self._shm = None
            return
        try:
            self._requests.send(None)
        except OSError:
            pass
        self._process.join(timeout)
        self.state = "idle"  # (before poll: an ended writer is no death here)
        if self._process.is_alive():
            log.warning("the screenshot writer did not finish within %.0f s", timeout)
            self._process.kill()
            self._process.join(5)
        self.poll()
        for conn in (self._requests, self._results):
            conn.close()
        assert self._shm is not None
        self._shm.close()
        self._shm.unlink()
        self._process = self._requests = self._results = self._shm = None
