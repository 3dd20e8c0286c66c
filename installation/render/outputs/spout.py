"""Spout (Windows only; extra `spout`, SpoutGL): an OpenGL texture shared with Resolume,
TouchDesigner, OBS (Spout2 plugin) on the same PC. SpoutGL needs a current GL context; the
adapter makes a hidden one with its own pygame-free helper, on the output's thread."""

from __future__ import annotations

from typing import Any

import numpy as np

from installation.render.outputs.base import (
    OutputUnavailable,
    import_or_unavailable,
    platform_library,
)

GL_RGBA, GL_BGRA = 0x1908, 0x80E1


def unavailable() -> str | None:
    return platform_library("win32", "Windows", "SpoutGL", "spout")


class SpoutAdapter:
    kind = "spout"

    def __init__(self, pixel_format: str = "rgba", lib: Any = None) -> None:
        if lib is None:
            reason = unavailable()
            if reason:
                raise OutputUnavailable(reason)
            lib = import_or_unavailable("SpoutGL", "spout")
        self.lib, self.gl_format = lib, GL_BGRA if pixel_format == "bgra" else GL_RGBA
        self.sender = None

    def open(self, name: str, size: tuple[int, int], fps: float) -> str:
        sender = self.lib.SpoutSender()
        if hasattr(sender, "createOpenGL"):
            sender.createOpenGL()  # a hidden GL context on this thread
        sender.setSenderName(name)
        self.sender, self.size = sender, size
        return name

    def send(self, frame: np.ndarray, **meta: Any) -> None:
        w, h = self.size
        if not self.sender.sendImage(np.ascontiguousarray(frame), w, h, self.gl_format, False, 0):
            raise RuntimeError("Spout refused the frame (no GL context or sender?)")

    def connections(self) -> int | None:
        return None

    def close(self) -> None:
        sender, self.sender = self.sender, None
        if sender is not None:
            sender.releaseSender()
            if hasattr(sender, "closeOpenGL"):
                sender.closeOpenGL()


def make(config: Any, lib: Any = None) -> SpoutAdapter:
    return SpoutAdapter(config.pixel_format, lib=lib)
