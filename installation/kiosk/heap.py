"""glibc's heap, measured and trimmed: what the soak found the show's memory growth to be.

The soak (benchmarks/soak.py, docs/soak.md) found the resident growth of a show under
--kiosk to be almost all native memory that glibc's malloc keeps after it was freed: torch's
CPU tensors (every frame's latents and images, each validated checkpoint) come and go through
malloc on several threads, each with its own arena, and a freed chunk in the middle of an
arena is never given back to the system on its own. Python's own objects grew by well under
a megabyte in the same time. malloc_trim(0) hands those free pages back (madvise), so the
kiosk calls it every `kiosk.heap_trim_s` on a thread of its own: a few milliseconds, during
which a malloc on that arena waits.

On a libc without malloc_trim (musl, macOS, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time

log = logging.getLogger(__name__)

MB = 1024 * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_LIBC: list = []


def glibc():
    """glibc through ctypes, with mallinfo2 and malloc_trim typed; None elsewhere."""
    if not _LIBC:
        libc = None
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None)
                libc.mallinfo2.restype = _MallInfo2
                libc.malloc_trim.argtypes = [ctypes.c_size_t]
                libc.malloc_trim.restype = ctypes.c_int
            except (OSError, AttributeError):  # not glibc (musl), or glibc older than 2.33
                libc = None
        _LIBC.append(libc)
    return _LIBC[0]


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory in MB from /proc (0 where there is none)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def heap_mb() -> dict[str, float]:
    """glibc's heap over all arenas: in use, freed but still held, mmapped on their own."""
    libc = glibc()
    if libc is None:
        return {}
    info = libc.mallinfo2()
    return {
        "heap_used_mb": info.uordblks / MB,
        "heap_free_mb": info.fordblks / MB,
        "heap_mmap_mb": info.hblkhd / MB,
    }


def trim() -> tuple[float, float] | None:
    """malloc_trim(0): (MB of RSS given back, milliseconds it took); None without glibc."""
    libc = glibc()
    if libc is None:
        return None
    before = rss_mb()
    start = time.perf_counter()
    libc.malloc_trim(0)
    took = (time.perf_counter() - start) * 1000
    return before - rss_mb(), took


class HeapTrimmer:
    """malloc_trim(0) every `every_s` on a daemon thread; counts for /health."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.trims = 0
        self.returned_mb = 0.0
        self.last_ms = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heap-trim", daemon=True)

    @property
    def available(self) -> bool:
        return glibc() is not None

    def start(self) -> None:
        if self.available:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def status(self) -> dict[str, float]:
        return {
            "trims": self.trims,
            "returned_mb": round(self.returned_mb, 1),
            "last_ms": round(self.last_ms, 2),
        }

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            done = trim()
            if done is None:
                return
            back, self.last_ms = done
            self.trims += 1
            self.returned_mb += max(0.0, back)
            log.debug("malloc_trim: %.1f MB back in %.1f ms", back, self.last_ms)
