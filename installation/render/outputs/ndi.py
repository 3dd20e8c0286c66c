"""NDI through cyndilib (extra `ndi`; its wheel ships the NDI runtime).

Receivers find the source by mDNS on the LAN. Where there is none (a container, some venue
networks), an NDI config file lists peers: `$NDI_CONFIG_DIR/ndi-config.v1.json` with
{"ndi": {"networks": {"ips": "127.0.0.1,10.0.0.5"}}}. Frames are handed to NDI
asynchronously from the output's thread (cyndilib copies them into its own buffers; NDI
compresses on its thread); a receiver that never reads costs NDI's own queue, not ours.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

import numpy as np

from installation.render.encoder import frame_rate
from installation.render.outputs.base import OutputUnavailable, import_or_unavailable

log = logging.getLogger(__name__)

_FOURCC = {"bgra": "BGRX", "bgrx": "BGRX", "rgba": "RGBX", "rgbx": "RGBX", "uyvy": "UYVY"}


def unavailable() -> str | None:
    try:
        lib = import_or_unavailable("cyndilib", "ndi")
        lib.get_ndi_version()
    except OutputUnavailable as exc:
        return str(exc)
    return None


class NdiAdapter:
    kind = "ndi"

    def __init__(self, pixel_format: str = "bgra", groups: str = "", lib: Any = None) -> None:
        self.lib = lib if lib is not None else import_or_unavailable("cyndilib", "ndi")
        # Our frames are opaque: NDI's X formats say so, and skip its alpha handling.
        self.fourcc = getattr(self.lib.FourCC, _FOURCC[pixel_format])
        self.groups = groups
        self.sender = None

    def open(self, name: str, size: tuple[int, int], fps: float) -> str:
        # NDI refuses a second sender with a name this machine already sends (another show,
        # or OBS's NDI plugin): take the next free "name (2)", "name (3)" ... and say so.
        for n in range(1, 10):
            candidate = name if n == 1 else f"{name} ({n})"
            try:
                self.sender = self._sender(candidate, size, fps)
            except MemoryError:  # cyndilib's word for a NULL sender from NDI
                continue
            full = getattr(getattr(self.sender, "source", None), "name", None) or candidate
            if n > 1:
                log.warning(
                    "NDI name %r is taken on this machine; receivers see this show as %r",
                    name,
                    full,
                )
            return full  # "HOST (name)", as receivers list it
        raise RuntimeError(f"NDI refused the names {name!r} to {name + ' (9)'!r}: all taken?")

    def _sender(self, name: str, size: tuple[int, int], fps: float):
        frame = self.lib.VideoSendFrame()
        frame.set_resolution(*size)
        frame.set_frame_rate(frame_rate(fps) if fps > 0 else Fraction(60))
        frame.set_fourcc(self.fourcc)
        # Unclocked: the show paces frames; NDI's clock would block this thread to its own
        # idea of the rate and turn every late frame into a drop.
        sender = self.lib.Sender(name, ndi_groups=self.groups, clock_video=False, clock_audio=False)
        sender.set_video_frame(frame)
        # An (unused) audio frame: cyndilib 0.1.3's failed-open path dereferences it, and
        # without one a refused name crashes the process instead of raising MemoryError.
        sender.set_audio_frame(self.lib.AudioSendFrame())
        sender.open()
        return sender

    def send(self, frame: np.ndarray, **meta: Any) -> None:
        assert self.sender is not None
        data = (
            frame.reshape(-1)
            if frame.flags.c_contiguous
            else np.ascontiguousarray(frame).reshape(-1)
        )
        # Async: NDI compresses this frame on its own thread while ours converts the next
        # (cyndilib copies the data into its own buffer first, so ours may be reused).
        if not self.sender.write_video_async(data):
            raise RuntimeError("the NDI sender is not running")

    def connections(self) -> int | None:
        return None if self.sender is None else int(self.sender.get_num_connections(0))

    def close(self) -> None:
        sender, self.sender = self.sender, None
        if sender is not None:
            sender.close()


def make(config: Any, lib: Any = None) -> NdiAdapter:
    return NdiAdapter(config.pixel_format, config.groups, lib=lib)
