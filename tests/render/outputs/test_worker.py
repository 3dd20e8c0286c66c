"""An output that is slow, vanishes or raises never stalls the render thread: frames are
dropped and counted, a raising output is disabled and retried with back-off, a full disk
stops it for good. The adapters here are test doubles standing in for a misbehaving library
(a receiver that never reads, a crashing driver), which no real library does on demand."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

pytest.importorskip("av")

from installation.render.encoder import DiskFull  # noqa: E402
from installation.render.outputs.frames import Converter  # noqa: E402
from installation.render.outputs.hub import OutputHub  # noqa: E402
from installation.render.outputs.worker import OUTPUT_NICE, OutputWorker  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

W, H = 16, 8


class Stuck:
    """A library call that blocks until released: a receiver that connected and never reads."""

    kind = "stuck"

    def __init__(self) -> None:
        self.release, self.entered, self.sent = threading.Event(), threading.Event(), 0

    def open(self, name, size, fps):
        return name

    def send(self, frame, **meta):
        self.entered.set()
        self.release.wait(10)
        self.sent += 1

    def connections(self):
        return 0

    def close(self):
        self.release.set()


class Flaky:
    """Raises on the sends listed in `fail_on` (counting opens and sends from 1)."""

    kind = "flaky"

    def __init__(self, log: list, fail_on: set[int], exc: type[Exception] = RuntimeError) -> None:
        self.log, self.fail_on, self.exc = log, fail_on, exc

    def open(self, name, size, fps):
        self.log.append("open")
        return name

    def send(self, frame, **meta):
        self.log.append("send")
        if self.log.count("send") in self.fail_on:
            raise self.exc("the driver went away")

    def connections(self):
        return None

    def close(self):
        self.log.append("close")


def make_hub(adapter_factory, queue: int = 2, backoff=(0.05, 0.2)):
    worker = OutputWorker(
        "test:out",
        adapter_factory,
        Converter((W, H), "bgra", (W, H), "bgrx"),
        name="out",
        fps=0,
        queue=queue,
        backoff=backoff,
    )
    return OutputHub([worker], display_size=(W, H), native_size=(W, H), src_format="bgra"), worker


@pytest.mark.parametrize("queue", [1, 2, 3])
def test_a_receiver_that_never_reads_drops_frames_and_never_blocks(queue: int) -> None:
    stuck = Stuck()
    hub, worker = make_hub(lambda: stuck, queue=queue)
    hub.start()
    try:
        frame = np.zeros((H, W, 4), np.uint8)
        assert wait_for(lambda: worker.state == "running", timeout=10), "timed out waiting for open"
        hub.display(frame)
        assert stuck.entered.wait(5)
        start = time.perf_counter()
        for _ in range(50):
            hub.display(frame)
        offer_s = time.perf_counter() - start
        assert worker.dropped == 50 - queue  # the queue holds `queue`, the rest are counted
        assert hub._pools["display"].in_use() == 1 + queue  # memory stays bounded
        assert offer_s < 1.0  # 50 offers did not wait on the stuck receiver
        assert "dropped" in hub.hud_lines()[0] and str(50 - queue) in hub.hud_lines()[0]
    finally:
        stuck.release.set()
        hub.stop()
    assert stuck.sent == 1 + queue and hub._pools["display"].in_use() == 0


def test_a_raising_output_is_disabled_then_retried_with_backoff(caplog) -> None:
    log: list[str] = []
    hub, worker = make_hub(lambda: Flaky(log, fail_on={2}))
    hub.start()
    frame = np.zeros((H, W, 4), np.uint8)
    try:
        assert wait_for(lambda: worker.state == "running", timeout=10), "timed out waiting for open"
        hub.display(frame)
        assert wait_for(lambda: log.count("send") == 1, timeout=10), (
            "timed out waiting for a first send"
        )
        hub.display(frame)
        assert wait_for(lambda: worker.state == "retrying", timeout=10), (
            "timed out waiting for the failure"
        )
        assert worker.failures == 1 and "driver went away" in worker.message
        assert not worker.wants(time.monotonic())  # disabled: frames are not even copied
        assert wait_for(lambda: worker.state == "running", timeout=5), (
            "timed out waiting for the retry after back-off"
        )
        hub.display(frame)
        assert wait_for(lambda: log.count("send") == 3, timeout=10), (
            "timed out waiting for sending again"
        )
    finally:
        hub.stop()
    assert log[:4] == ["open", "send", "send", "close"] and log.count("open") == 2
    assert any(
        "retrying in" in r.getMessage() and "the show goes on" in r.getMessage()
        for r in caplog.records
    )


def test_backoff_doubles_up_to_its_limit() -> None:
    log: list[str] = []
    hub, worker = make_hub(lambda: Flaky(log, fail_on=set(range(1, 100))), backoff=(0.02, 0.08))
    hub.start()
    try:
        stamps = []
        while len(stamps) < 5:
            assert wait_for(lambda: worker.state == "running", timeout=5), (
                "timed out waiting for a reopen"
            )
            stamps.append(time.monotonic())
            hub.display(np.zeros((H, W, 4), np.uint8))
            assert wait_for(lambda: worker.failures >= len(stamps), timeout=10)
    finally:
        hub.stop()
    gaps = np.diff(stamps)
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and all(g >= 0.08 for g in gaps[2:])


def test_a_full_disk_stops_the_output_for_good() -> None:
    log: list[str] = []
    hub, worker = make_hub(
        lambda: Flaky(log, fail_on={1}, exc=lambda m: DiskFull("the disk is full"))
    )
    hub.start()
    try:
        assert wait_for(lambda: worker.state == "running", timeout=10), "timed out waiting for open"
        hub.display(np.zeros((H, W, 4), np.uint8))
        assert wait_for(lambda: worker.state == "stopped", timeout=10), (
            "timed out waiting for the stop"
        )
        time.sleep(0)  # no back-off: nothing will reopen it
        assert not worker.wants(time.monotonic()) and log.count("open") == 1
        assert worker.status()["message"] == "the disk is full"
    finally:
        hub.stop()


def test_frames_queued_behind_a_full_disk_never_open_a_new_take() -> None:
    log: list[str] = []
    queued = threading.Event()

    class FillsUp(Flaky):
        def send(self, frame, **meta):
            queued.wait(10)  # the render thread queues more frames meanwhile
            super().send(frame, **meta)

    hub, worker = make_hub(lambda: FillsUp(log, fail_on={1}, exc=DiskFull), queue=2)
    hub.start()
    try:
        assert wait_for(lambda: worker.state == "running", timeout=10), "timed out waiting for open"
        for _ in range(3):  # one in the send that fails, two waiting in the queue
            hub.display(np.zeros((H, W, 4), np.uint8))
        queued.set()
        assert wait_for(lambda: worker.state == "stopped", timeout=10), "timed out: no stop"
        assert wait_for(lambda: not hub._pools["display"].in_use(), timeout=10), (
            "the queued frames were never let go"
        )
    finally:
        hub.stop()
    assert log.count("open") == 1 and log.count("send") == 1, log


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice values are Linux's")
def test_output_threads_yield_the_cpu_to_the_render_thread() -> None:
    seen: dict[str, int] = {}

    class Probe(Flaky):
        def open(self, name, size, fps):
            seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            return name

    hub, worker = make_hub(lambda: Probe([], set()))
    hub.start()
    try:
        assert wait_for(lambda: "nice" in seen, timeout=10)
    finally:
        hub.stop()
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen["nice"] == max(main, OUTPUT_NICE)
