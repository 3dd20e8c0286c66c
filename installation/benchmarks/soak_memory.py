"""The soak's questions to the memory probe inside the show (kiosk/memprobe.py), and what
it makes of the answers: Python's share of the growth against the native share, glibc's
free heap, and (with $INSTALLATION_SOAK_TRACE) the allocation sites that grew."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from installation.files import atomic_write_bytes
from installation.kiosk.memprobe import PROBE_ENV

log = logging.getLogger(__name__)

TRACE_ENV = "INSTALLATION_SOAK_TRACE"  # tracemalloc frames to keep: a diagnosis soak


def trace_frames() -> int:
    text = os.environ.get(TRACE_ENV, "")
    return int(text) if text.isdigit() else 0


class ProbeClient:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._n = 0

    @property
    def env(self) -> dict[str, str]:
        return {PROBE_ENV: str(self.folder)}

    def ask(self, pid: int, do: str, timeout: float = 120, **args) -> dict:
        """One request to the show `pid`'s probe, and its answer ({} if none came in time)."""
        self._n += 1
        where = self.folder / str(pid)
        atomic_write_bytes(
            where / f"req-{self._n:04d}.json", json.dumps({"do": do, **args}).encode()
        )
        answer = where / f"ans-{self._n:04d}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if answer.exists():
                result = json.loads(answer.read_text(encoding="utf-8"))
                answer.unlink()
                return result
            time.sleep(0.1)
        log.warning("the memory probe did not answer %r within %.0f s", do, timeout)
        return {}


def split_report(start: dict, end: dict, rss_growth: float) -> None:
    """Log where the growth between two probe samples sits."""

    def grew(key: str) -> float | None:
        return end[key] - start[key] if key in start and key in end else None

    heap_used, heap_free, heap_mmap = (
        grew("heap_used_mb"),
        grew("heap_free_mb"),
        grew("heap_mmap_mb"),
    )
    if heap_used is not None:
        log.info(
            "soak memory, glibc heap: in use %+.1f MB, free but held %+.1f MB, mmapped %+.1f MB",
            heap_used,
            heap_free,
            heap_mmap,
        )
    traced = grew("python_traced_mb")
    if traced is not None:
        overhead = grew("tracemalloc_overhead_mb") or 0.0
        log.info(
            "soak memory split: RSS %+.1f MB = Python (traced) %+.1f MB + tracemalloc's own "
            "%+.1f MB + native %+.1f MB",
            rss_growth,
            traced,
            overhead,
            rss_growth - traced - overhead,
        )


def top_report(answer: dict, n: int = 12) -> None:
    for site in answer.get("top", [])[:n]:
        log.info(
            "soak memory site: %+8.1f kB (%+d blocks) %s  [%s]",
            site["growth_kb"],
            site["count_growth"],
            site["at"],
            " < ".join(reversed(site["traceback"][:-1])),
        )


def trim_report(answer: dict) -> float | None:
    """RSS that glibc's malloc_trim gave back at the end (MB), logged."""
    if "before" not in answer:
        return None
    back = answer["before"]["rss_mb"] - answer["after"]["rss_mb"]
    log.info(
        "soak memory: malloc_trim(0) at the end gave back %.1f MB of RSS (glibc free heap %.1f -> %.1f MB)",
        back,
        answer["before"].get("heap_free_mb", float("nan")),
        answer["after"].get("heap_free_mb", float("nan")),
    )
    return back
