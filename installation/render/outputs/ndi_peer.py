"""NDI's own receiver (cyndilib's Receiver, the NDI runtime's recv), for tests, benchmarks
and a quick look at what the show sends.

The NDI finder discovers over mDNS, which a container lacks; `loopback_config()` writes an
NDI config file that lists 127.0.0.1 as a peer, and must run before the NDI runtime starts
(before cyndilib's first use in the process)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time

import numpy as np


def loopback_config() -> str:
    folder = os.environ.get("NDI_CONFIG_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="ndi-config-")
        os.environ["NDI_CONFIG_DIR"] = folder
    path = os.path.join(folder, "ndi-config.v1.json")
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"ndi": {"networks": {"ips": "127.0.0.1"}}}, fh)
    return folder


class NdiPeer:
    """Finds `stream` on this machine and receives its video as RGBX on its own thread.

    For pixels, not for counting: cyndilib's Receiver has a frame-sync bound to it that takes
    a share of the frames first (see ndi_capture.py); NdiPeerProcess counts."""

    def __init__(self, stream: str, keep: int = 4, colour: str = "RGBX_RGBA") -> None:
        import cyndilib
        from cyndilib.receiver import ReceiveFrameType

        self.lib, self.kind = cyndilib, ReceiveFrameType
        self.stream, self.keep, self.colour = stream, keep, colour
        self.frames: list[np.ndarray] = []
        self.sizes: set[tuple[int, int]] = set()
        self.count = 0
        self.source_name: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ndi peer", daemon=True)

    def __enter__(self) -> NdiPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _find(self, finder):
        while not self._stop.is_set():
            # update_sources + our own wait: cyndilib's wait_for_sources blocks holding the GIL
            finder.update_sources()
            for name in finder.get_source_names():
                if name.endswith(f"({self.stream})"):
                    self.source_name = name
                    return finder.get_source(name)
            self._stop.wait(0.1)
        return None

    def _run(self) -> None:
        lib = self.lib
        finder = lib.Finder()
        finder.open()
        try:
            source = self._find(finder)
            if source is None:
                return
            receiver = lib.Receiver(
                color_format=getattr(lib.RecvColorFormat, self.colour),
                bandwidth=lib.RecvBandwidth.highest,
            )
            frame = lib.VideoRecvFrame()
            receiver.set_video_frame(frame)
            receiver.connect_to(source)
            buffer = np.empty(0, np.uint8)
            while not self._stop.is_set():
                got = receiver.receive(self.kind.recv_video, 100)
                if not got & self.kind.recv_video:
                    continue
                w, h = frame.get_resolution()
                if not self.keep:  # only counting: free the buffer without copying it out
                    frame.skip_frames(True)
                    frame.skip_frames(False)
                    self.count += 1
                    self.sizes.add((w, h))
                    continue
                if buffer.size != frame.get_buffer_size():
                    buffer = np.empty(frame.get_buffer_size(), np.uint8)
                if not frame.fill_p_data(buffer):
                    continue
                self.count += 1
                self.sizes.add((w, h))
                if self.keep and (len(self.frames) < self.keep or self.count % 30 == 0):
                    # a copy only now and then: counting must keep up at 1080p60
                    kept = buffer[: w * h * 4].reshape(h, w, 4).copy()
                    self.frames = [*self.frames[-(self.keep - 1) :], kept]
            receiver.disconnect()
        finally:
            finder.close()

    def wait(self, frames: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count < frames:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the NDI receiver got {self.count} frames of {frames} in {timeout} s "
                    f"(source found: {self.source_name})"
                )
            time.sleep(0.01)


def sched_seconds() -> tuple[float, float]:
    """(seconds this process's threads ran on a CPU, seconds they were runnable but waited
    for one), from Linux's schedstat; (process time, 0) elsewhere."""
    ran = waited = 0.0
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/schedstat", encoding="ascii") as fh:
                run_ns, wait_ns, _ = fh.read().split()
            ran, waited = ran + int(run_ns) / 1e9, waited + int(wait_ns) / 1e9
    except (OSError, ValueError):
        return time.process_time(), 0.0
    return ran, waited


def _count_in_child(stream: str, counters, stop) -> None:
    """One thread, one timeout-based capture loop: nothing in this process competes with it."""
    from installation.render.outputs.ndi_capture import CountingReceiver

    receiver = CountingReceiver(stream)
    try:
        if not receiver.connect(60, stop.is_set):
            return
        idle = 0  # captures that timed out: one after the sender paused means all is read
        while not stop.is_set():
            if not receiver.capture(100):
                idle += 1
            counters[:] = [receiver.count, *receiver.performance(), *sched_seconds(), idle]
    finally:
        receiver.close()


class NdiPeerProcess:
    """A counting NDI receiver in a process of its own, as a real receiver (TouchDesigner,
    OBS) would be, on the NDI runtime's C API (ndi_capture.py). Only counters come back
    (`counters()`, all updated together after each capture): frames it read, frames that
    reached NDI's receiver and those NDI dropped unread, the CPU seconds it ran and waited
    runnable for a CPU (a receiver starved of CPU shows as wait, frames lost before it as
    arrived < sent), and `idle`, captures that timed out with nothing to read."""

    def __init__(self, stream: str) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
        self._counters, self._stop = ctx.Array("d", 6), ctx.Event()
        self._process = ctx.Process(
            target=_count_in_child, args=(stream, self._counters, self._stop), daemon=True
        )

    @property
    def count(self) -> int:
        return int(self._counters[0])

    def counters(self) -> dict[str, float]:
        read, arrived, dropped, ran, waited, idle = self._counters[:]
        return {
            "read": read,
            "arrived": arrived,
            "ndi_dropped": dropped,
            "cpu_s": ran,
            "cpu_wait_s": waited,
            "idle": idle,
        }

    def __enter__(self) -> NdiPeerProcess:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
