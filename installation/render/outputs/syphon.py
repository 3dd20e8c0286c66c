"""Syphon (macOS only; extra `syphon`, syphon-python): a Metal texture shared with VDMX,
Resolume, MadMapper, TouchDesigner on the same Mac. Frames are RGBA, uploaded per send."""

from __future__ import annotations

from typing import Any

import numpy as np

from installation.render.outputs.base import (
    OutputUnavailable,
    import_or_unavailable,
    platform_library,
)


def unavailable() -> str | None:
    return platform_library("darwin", "macOS", "syphon", "syphon")


class SyphonAdapter:
    kind = "syphon"

    def __init__(self, lib: Any = None) -> None:
        if lib is None:
            reason = unavailable()
            if reason:
                raise OutputUnavailable(reason)
            lib = import_or_unavailable("syphon", "syphon")
        self.lib = lib
        self.server = self.texture = None

    def open(self, name: str, size: tuple[int, int], fps: float) -> str:
        self.server = self.lib.SyphonMetalServer(name)
        self.texture = self.lib.utils.textures.create_mtl_texture(self.server.device, *size)
        return name

    def send(self, frame: np.ndarray, **meta: Any) -> None:
        self.lib.utils.numpy.copy_image_to_mtl_texture(np.ascontiguousarray(frame), self.texture)
        self.server.publish_frame_texture(self.texture)

    def connections(self) -> int | None:
        return int(bool(self.server.has_clients)) if self.server is not None else None

    def close(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


def make(config: Any, lib: Any = None) -> SyphonAdapter:
    return SyphonAdapter(lib=lib)
