"""The soak's memory probe (kiosk/memprobe.py) answering through real files, in this process:
the allocation site that grows is the one it names, and malloc_trim's answer is measured;
the kiosk's heap trimmer (kiosk/heap.py) with the real glibc."""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from installation.benchmarks.soak_memory import ProbeClient
from installation.kiosk.heap import HeapTrimmer, glibc, heap_mb
from installation.kiosk.memprobe import PROBE_ENV, MemoryProbe, arm_from_env


def _grow(into: list) -> None:
    for _ in range(2000):
        into.append(bytearray(1024))  # the site the probe must name


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_probe_names_the_site_that_grew_and_measures_a_trim(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(PROBE_ENV, str(tmp_path))
    was_tracing = tracemalloc.is_tracing()
    probe = arm_from_env()
    assert isinstance(probe, MemoryProbe)
    client = ProbeClient(tmp_path)
    pid = int(probe.folder.name)
    held: list = []
    try:
        first = client.ask(pid, "sample", timeout=20)
        assert first["rss_mb"] > 0
        start = client.ask(pid, "trace", frames=4, timeout=20)
        assert "python_traced_mb" in start
        quiet = client.ask(pid, "snapshot", timeout=20)["top"]  # the probe's own small change
        assert all(site["growth_kb"] < 200 for site in quiet), quiet
        _grow(held)
        end = client.ask(pid, "snapshot", timeout=20)
        top = end["top"][0]
        assert top["at"].endswith(f"test_memprobe.py:{_grow.__code__.co_firstlineno + 2}")
        assert top["growth_kb"] > 1500 and top["count_growth"] >= 2000
        assert end["python_traced_mb"] - start["python_traced_mb"] > 1.5
        trim = client.ask(pid, "trim", timeout=20)
        if "error" not in trim:  # glibc: before and after, both measured
            assert trim["after"]["rss_mb"] <= trim["before"]["rss_mb"] + 1
            assert "heap_free_mb" in trim["after"]
        assert "unknown" in client.ask(pid, "what", timeout=20)["error"]
        assert not list(probe.folder.glob("req-*"))  # every request answered and gone
    finally:
        if not was_tracing:
            tracemalloc.stop()


def test_no_probe_unless_asked(monkeypatch):
    monkeypatch.delenv(PROBE_ENV, raising=False)
    assert arm_from_env() is None


@pytest.mark.skipif(glibc() is None, reason="glibc's malloc_trim (Linux)")
def test_the_heap_trimmer_trims_on_its_own_thread_and_counts():
    trimmer = HeapTrimmer(every_s=0.05)
    trimmer.start()
    try:
        deadline = time.monotonic() + 20
        while trimmer.trims < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        trimmer.stop()
    status = trimmer.status()
    assert status["trims"] >= 3 and status["returned_mb"] >= 0 and status["last_ms"] > 0
    assert not trimmer._thread.is_alive()
    assert heap_mb()["heap_used_mb"] > 0
