"""NDI for real: the show's NDI output, received by NDI's own receiver on loopback.

The container has no mDNS, so an NDI config file lists 127.0.0.1 as a peer (ndi_peer.py);
it is written at import, before anything in this process starts the NDI runtime."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from installation.render.outputs.ndi_peer import NdiPeer, NdiPeerProcess, loopback_config

loopback_config()
cyndilib = pytest.importorskip("cyndilib", reason="NDI tests need the ndi extra (cyndilib)")

from installation.app import RunOptions, ShowRuntime  # noqa: E402
from installation.config.show import parse_show  # noqa: E402
from tests.render.outputs.test_contract import bgra_frame, hub_for  # noqa: E402
from tests.waiting import wait_for  # noqa: E402


def ndi_hub(name: str, size=(64, 48), pixel_format: str = "bgra"):
    output = {"kind": "ndi", "name": name, "pixel_format": pixel_format}
    return hub_for(output, None, native=size, display=size)  # lib None: the real cyndilib


@pytest.mark.parametrize("pixel_format", ["bgra", "uyvy"])
def test_ndi_receiver_gets_our_frames_with_their_size_and_colours(pixel_format: str) -> None:
    name = f"installation-test-{pixel_format}"
    hub = ndi_hub(name, pixel_format=pixel_format)
    hub.start()
    try:
        with NdiPeer(name) as peer:
            deadline = time.monotonic() + 60  # NDI discovery is slow on a loaded machine
            while peer.count < 5 and time.monotonic() < deadline:
                hub.display(bgra_frame(64, 48))
                time.sleep(1 / 30)
            peer.wait(5, timeout=1)
            assert peer.sizes == {(64, 48)}
            got = peer.frames[-1]  # RGBX from the receiver
            # NDI compresses (SpeedHQ, 4:2:2): colours come back close, not exact.
            left, right = got[24, 8, :3].astype(int), got[24, 56, :3].astype(int)
            assert np.abs(left - (220, 30, 10)).max() <= 12, left
            assert np.abs(right - (20, 40, 200)).max() <= 12, right

            def counted() -> bool:
                hub.display(bgra_frame(64, 48))
                time.sleep(1 / 30)
                return hub.workers[0].receivers == 1

            assert wait_for(counted, timeout=10), (
                "timed out waiting for the sender to count its receiver"
            )
    finally:
        hub.stop()
    assert hub.workers[0].failures == 0


def test_a_name_taken_by_another_process_becomes_name_2() -> None:
    script = (
        "from tests.render.outputs.test_ndi import ndi_hub\nimport sys, time\n"
        "hub = ndi_hub('installation-clash'); hub.start()\n"
        "print('ready', flush=True); sys.stdin.readline(); hub.stop()\n"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout.readline().strip() == "ready"
        hub = ndi_hub("installation-clash")
        hub.start()
        try:
            assert wait_for(lambda: hub.workers[0].state == "running", timeout=20), (
                "timed out waiting for our sender"
            )
            seen = hub.workers[0].seen_as
        finally:
            hub.stop()
    finally:
        other.communicate("\n", timeout=20)
    assert seen.endswith("(installation-clash (2))"), seen


def test_show_sends_ndi_headless_without_a_window(show_dict: dict) -> None:
    show_dict["display"].update(enabled=False, size=[160, 90], fps=30)
    show_dict["outputs"] = [{"kind": "ndi", "name": "installation-e2e"}]
    runtime = ShowRuntime(parse_show(show_dict), RunOptions(seconds=30))
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        with NdiPeer("installation-e2e") as peer:
            deadline = time.monotonic() + 60
            while peer.count < 10 and time.monotonic() < deadline:
                loop.step()
            peer.wait(10, timeout=1)
            assert peer.sizes == {(160, 90)}
            assert peer.frames[-1][..., :3].std() > 1  # a picture, not a blank frame
            status = loop.status()["outputs"]["ndi:installation-e2e"]
            assert status["state"] == "running" and status["sent"] >= 10
    finally:
        runtime.close()


def test_the_counting_receiver_reads_every_frame_that_arrives() -> None:
    """The benchmark's receiver (its own process, NDI's C API without cyndilib's frame-sync,
    which took a share of the frames first: ndi_capture.py) reads each frame our output
    sends, and its counters agree with NDI's own."""
    name = "installation-test-count"
    hub = ndi_hub(name, size=(96, 54))
    hub.start()
    worker = hub.workers[0]
    try:
        with NdiPeerProcess(name) as peer:

            def connected() -> bool:
                hub.display(bgra_frame(96, 54))
                time.sleep(1 / 30)
                return peer.count >= 3

            assert wait_for(connected, timeout=60), "the receiver found no source"
            assert wait_for(lambda: not hub._pools["display"].in_use(), timeout=10)
            idle = peer.counters()["idle"]  # a capture that finds nothing: all sent is read
            assert wait_for(lambda: peer.counters()["idle"] > idle + 1, timeout=10)
            before, sent_before, dropped_before = peer.counters(), worker.sent, worker.dropped
            for _ in range(30):  # each frame handed over before the next (none dropped)
                hub.display(bgra_frame(96, 54))
                assert wait_for(lambda: not hub._pools["display"].in_use(), timeout=10)
            assert worker.sent - sent_before == 30 and worker.dropped == dropped_before

            def caught_up() -> bool:  # NDI's own counter is updated a moment after the read
                now = peer.counters()
                return (
                    now["read"] - before["read"] >= 30 and now["arrived"] - before["arrived"] >= 30
                )

            assert wait_for(caught_up, timeout=10), (peer.counters(), before)
            after = peer.counters()
            assert after["read"] - before["read"] == 30
            assert after["arrived"] - before["arrived"] == 30
            assert after["ndi_dropped"] == before["ndi_dropped"]
            assert after["cpu_s"] > 0
    finally:
        hub.stop()
