"""Twenty replugs of one controller (issue 16's fault run, kept in CI): every time it comes
back it steers the show again, and the process's threads and file descriptors stay flat
(a leaked JACK client or port per replug would show here). Real MIDI through JACK."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from midi_helpers import FakeDevice, Harness, midi_show

from tests.waiting import wait_for

REPLUGS = 20

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="counts threads and fds in /proc")


def resources() -> tuple[int, int, int]:
    """(Python threads, OS threads, open fds) of this process."""
    return (
        threading.active_count(),
        len(os.listdir("/proc/self/task")),
        len(os.listdir("/proc/self/fd")),
    )


def _sent_and_seen(h, dev, value: int) -> bool:
    dev.cc(7, value)
    h.settle(0.02)
    return h.targets["output.brightness"] == pytest.approx(value / 127)


def test_twenty_replugs_keep_working_and_threads_and_fds_flat(device, tmp_path):
    first = device("replug")
    name = first.name
    data = midi_show(
        name, [{"cc": 7, "target": "output.brightness", "takeover": "none"}], poll_s=0.1
    )
    seen = []
    plugged = [first]
    with Harness(data, tmp_path) as h:
        h.connected(first)
        try:
            for i in range(REPLUGS):
                value = 10 + i * 5
                # Resent until it lands: a message in the instant a port is being connected
                # may be lost, as with a real cable (test_midi_live's replug test does so too).
                assert wait_for(lambda v=value: _sent_and_seen(h, plugged[-1], v), 10, 0.05), (
                    f"no control after replug {i}"
                )
                plugged[-1].close()  # the cable is pulled ...
                h.until(lambda: not h.service.status().devices, timeout=5.0, what="closed")
                plugged.append(FakeDevice(name=name))  # ... and plugged in again
                h.connected(plugged[-1])
                seen.append(resources())
        finally:
            plugged[-1].close()
    baseline = seen[2]  # after the first replugs: every pool and cache has been made
    assert all(r[0] == baseline[0] for r in seen[3:]), seen  # Python threads: exactly flat
    # OS threads and fds may breathe by one or two (JACK's own threads come and go) but
    # must not climb with every replug.
    assert max(r[1] for r in seen[3:]) <= baseline[1] + 2, seen
    assert max(r[2] for r in seen[3:]) <= baseline[2] + 2, seen
