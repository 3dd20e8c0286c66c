"""A counting NDI receiver on the NDI runtime's own C API (ctypes), for the benchmark.

Why not cyndilib's Receiver: cyndilib 0.1.3 binds an NDI frame-sync to every Receiver it
makes (`NDIlib_framesync_create` in its constructor), and a frame-sync pulls frames from its
receiver on a thread of its own. A loop that calls `receive()` then gets only the frames the
frame-sync did not take first: on this machine a third to a half of a 60 fps stream at any
size, with NDI's own counters saying every frame arrived and none was dropped. To count what
a receiver can read, this one is a plain NDI receiver (find, recv_create_v3, capture_v2,
free), with the runtime that cyndilib's wheel ships. ctypes releases the GIL in each call.

Linux and macOS layouts of the structs are the SDK's (Processing.NDI.structs.h, v2 frames).
"""

from __future__ import annotations

import ctypes
import glob
import os
import time

FRAME_VIDEO, FRAME_ERROR = 1, 4
COLOUR_FASTEST, BANDWIDTH_HIGHEST = 100, 100


class _Source(ctypes.Structure):
    _fields_ = [("p_ndi_name", ctypes.c_char_p), ("p_url_address", ctypes.c_char_p)]


class _FindCreate(ctypes.Structure):
    _fields_ = [
        ("show_local_sources", ctypes.c_bool),
        ("p_groups", ctypes.c_char_p),
        ("p_extra_ips", ctypes.c_char_p),
    ]


class _RecvCreate(ctypes.Structure):
    _fields_ = [
        ("source_to_connect_to", _Source),
        ("color_format", ctypes.c_int),
        ("bandwidth", ctypes.c_int),
        ("allow_video_fields", ctypes.c_bool),
        ("p_ndi_recv_name", ctypes.c_char_p),
    ]


class _VideoFrame(ctypes.Structure):
    _fields_ = [
        ("xres", ctypes.c_int),
        ("yres", ctypes.c_int),
        ("FourCC", ctypes.c_uint32),
        ("frame_rate_N", ctypes.c_int),
        ("frame_rate_D", ctypes.c_int),
        ("picture_aspect_ratio", ctypes.c_float),
        ("frame_format_type", ctypes.c_int),
        ("timecode", ctypes.c_int64),
        ("p_data", ctypes.c_void_p),
        ("line_stride_in_bytes", ctypes.c_int),
        ("p_metadata", ctypes.c_char_p),
        ("timestamp", ctypes.c_int64),
    ]


class _Performance(ctypes.Structure):
    _fields_ = [("video", ctypes.c_int64), ("audio", ctypes.c_int64), ("metadata", ctypes.c_int64)]


def runtime_path() -> str:
    """The libndi that cyndilib's wheel ships (auditwheel puts it in cyndilib.libs)."""
    import cyndilib

    package = os.path.dirname(cyndilib.__file__)
    for pattern in (
        os.path.join(os.path.dirname(package), "cyndilib.libs", "libndi*"),
        os.path.join(package, "wrapper", "bin", "*", "libndi*"),
        os.path.join(package, "wrapper", "bin", "libndi*"),
    ):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise OSError(f"no NDI runtime (libndi) found in {package}")


def _library(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    p, i, u32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32
    perf = ctypes.POINTER(_Performance)
    for name, res, args in (
        ("NDIlib_initialize", ctypes.c_bool, []),
        ("NDIlib_find_create_v2", p, [ctypes.POINTER(_FindCreate)]),
        ("NDIlib_find_wait_for_sources", ctypes.c_bool, [p, u32]),
        ("NDIlib_find_get_current_sources", ctypes.POINTER(_Source), [p, ctypes.POINTER(u32)]),
        ("NDIlib_find_destroy", None, [p]),
        ("NDIlib_recv_create_v3", p, [ctypes.POINTER(_RecvCreate)]),
        ("NDIlib_recv_capture_v2", i, [p, ctypes.POINTER(_VideoFrame), p, p, u32]),
        ("NDIlib_recv_free_video_v2", None, [p, ctypes.POINTER(_VideoFrame)]),
        ("NDIlib_recv_get_performance", None, [p, perf, perf]),
        ("NDIlib_recv_destroy", None, [p]),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    if not lib.NDIlib_initialize():
        raise OSError("the NDI runtime did not initialise (unsupported CPU?)")
    return lib


class CountingReceiver:
    """Finds the source whose name ends in "(stream)" and counts the video frames it reads.

    `capture(timeout_ms)` reads one frame (or times out) and frees it at once; `count`,
    `sizes` and `performance()` (NDI's frames arrived / dropped) say what came in."""

    def __init__(self, stream: str, path: str | None = None) -> None:
        self.lib = _library(path or runtime_path())
        self.stream = stream
        self.source_name: str | None = None
        self.count = 0
        self.sizes: set[tuple[int, int]] = set()
        self._frame = _VideoFrame()
        self._recv = None
        settings = _FindCreate(True, None, None)
        self._find = self.lib.NDIlib_find_create_v2(ctypes.byref(settings))
        if not self._find:
            raise OSError("NDI refused to make a finder")

    def connect(self, timeout: float, stop=lambda: False) -> bool:
        """Wait up to `timeout` s for the source; True once a receiver is connected to it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stop():
            self.lib.NDIlib_find_wait_for_sources(self._find, 100)
            n = ctypes.c_uint32(0)
            sources = self.lib.NDIlib_find_get_current_sources(self._find, ctypes.byref(n))
            for k in range(n.value):
                name = (sources[k].p_ndi_name or b"").decode("utf-8", "replace")
                if name.endswith(f"({self.stream})"):
                    self.source_name = name
                    create = _RecvCreate(
                        sources[k], COLOUR_FASTEST, BANDWIDTH_HIGHEST, False, b"installation-peer"
                    )
                    self._recv = self.lib.NDIlib_recv_create_v3(ctypes.byref(create))
                    return bool(self._recv)
        return False

    def capture(self, timeout_ms: int = 100) -> bool:
        assert self._recv is not None
        kind = self.lib.NDIlib_recv_capture_v2(
            self._recv, ctypes.byref(self._frame), None, None, timeout_ms
        )
        if kind != FRAME_VIDEO:
            return False
        self.count += 1
        self.sizes.add((self._frame.xres, self._frame.yres))
        self.lib.NDIlib_recv_free_video_v2(self._recv, ctypes.byref(self._frame))
        return True

    def performance(self) -> tuple[int, int]:
        """(video frames that reached this receiver, those NDI dropped unread)."""
        if self._recv is None:
            return 0, 0
        total, dropped = _Performance(), _Performance()
        self.lib.NDIlib_recv_get_performance(self._recv, ctypes.byref(total), ctypes.byref(dropped))
        return int(total.video), int(dropped.video)

    def close(self) -> None:
        recv, self._recv = self._recv, None
        if recv:
            self.lib.NDIlib_recv_destroy(recv)
        find, self._find = self._find, None
        if find:
            self.lib.NDIlib_find_destroy(find)
