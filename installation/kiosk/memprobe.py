"""A memory probe inside the show, for the soak (benchmarks/soak.py): where resident memory goes.

RSS seen from outside says how much a show grows, not what grows. Armed only when
$INSTALLATION_MEMPROBE names a folder (the soak sets it; a show never does), a daemon thread
answers requests the soak drops there: `req-N.json` {"do": ...} gets `ans-N.json` back.

- "sample": RSS; glibc's heap (mallinfo2, kiosk/heap.py: bytes in use, free bytes it still
  holds, mmapped blocks); Python's traced bytes while tracemalloc runs, and tracemalloc's
  own overhead. RSS minus what Python traced is the native side: torch's CPU allocator,
  SDL, libjack, and glibc's arenas.
- "trace": start tracemalloc (`frames` deep). Started after the warm-up, it sees only what
  is allocated from then on, and costs nothing before.
- "snapshot": a tracemalloc snapshot; from the second on, the answer holds the top
  allocation sites by growth since the previous one (the snapshot in between is dropped).
- "trim": glibc's malloc_trim(0): RSS before and after, how long it took.

It runs on its own thread and touches nothing of the show's: the render loop never waits
for it (tracemalloc, once started, does slow every Python allocation: a diagnosis mode).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import tracemalloc
from pathlib import Path

from installation.files import atomic_write_bytes
from installation.kiosk.heap import MB, heap_mb, rss_mb, trim

log = logging.getLogger(__name__)

PROBE_ENV = "INSTALLATION_MEMPROBE"
POLL_S = 0.25
TOP = 25


def sample() -> dict[str, float]:
    out = {"rss_mb": rss_mb(), **heap_mb()}
    if tracemalloc.is_tracing():
        traced, _peak = tracemalloc.get_traced_memory()
        out["python_traced_mb"] = traced / MB
        out["tracemalloc_overhead_mb"] = tracemalloc.get_tracemalloc_memory() / MB
    return out


def _top(new: tracemalloc.Snapshot, old: tracemalloc.Snapshot) -> list[dict]:
    ignore = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    )
    new, old = new.filter_traces(ignore), old.filter_traces(ignore)
    sites = []
    for stat in new.compare_to(old, "traceback")[:TOP]:
        frames = [f"{f.filename}:{f.lineno}" for f in stat.traceback]
        sites.append(
            {
                "growth_kb": round(stat.size_diff / 1024, 1),
                "count_growth": stat.count_diff,
                "size_kb": round(stat.size / 1024, 1),
                "at": frames[-1] if frames else "?",  # the innermost frame
                "traceback": frames[-6:],
            }
        )
    return sites


class MemoryProbe:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._previous: tracemalloc.Snapshot | None = None
        self._thread = threading.Thread(target=self._run, name="memprobe", daemon=True)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def answer(self, request: dict) -> dict:
        what = request.get("do")
        if what == "sample":
            return sample()
        if what == "trace":
            if not tracemalloc.is_tracing():
                tracemalloc.start(int(request.get("frames", 8)))
            self._previous = tracemalloc.take_snapshot()
            return sample()
        if what == "snapshot":
            if not tracemalloc.is_tracing():
                return {"error": "tracemalloc is not tracing (ask for trace first)"}
            snap = tracemalloc.take_snapshot()
            answer = {**sample(), "top": _top(snap, self._previous) if self._previous else []}
            self._previous = snap
            return answer
        if what == "trim":
            before = sample()
            done = trim()
            if done is None:
                return {"error": "no glibc malloc_trim here"}
            return {"before": before, "after": sample(), "ms": done[1]}
        return {"error": f"unknown request {what!r}"}

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(POLL_S):
            for req in sorted(self.folder.glob("req-*.json")):
                ans = self.folder / req.name.replace("req-", "ans-", 1)
                try:
                    result = self.answer(json.loads(req.read_text(encoding="utf-8")))
                except (OSError, ValueError) as exc:
                    result = {"error": str(exc)}
                req.unlink(missing_ok=True)
                atomic_write_bytes(ans, json.dumps(result).encode("utf-8"))


def arm_from_env() -> MemoryProbe | None:
    folder = os.environ.get(PROBE_ENV)
    if not folder:
        return None
    probe = MemoryProbe(Path(folder) / str(os.getpid()))
    probe.start()
    log.info("memory probe armed: %s", probe.folder)
    return probe
