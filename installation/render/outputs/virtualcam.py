"""A virtual camera (extra `virtualcam`, pyvirtualcam): v4l2loopback on Linux, OBS's virtual
camera on Windows and macOS. Zoom, browsers and OBS see it as a webcam."""

from __future__ import annotations

import glob
import sys
from typing import Any

import numpy as np

from installation.render.outputs.base import OutputUnavailable, import_or_unavailable

_FORMATS = {"rgb": "RGB", "bgr": "BGR", "uyvy": "UYVY"}


def unavailable() -> str | None:
    try:
        import_or_unavailable("pyvirtualcam", "virtualcam")
    except OutputUnavailable as exc:
        return str(exc)
    if sys.platform.startswith("linux") and not glob.glob("/dev/video*"):
        return (
            "no /dev/video* device: load v4l2loopback (sudo modprobe v4l2loopback devices=1 "
            "exclusive_caps=1 card_label=installation)"
        )
    return None


class VirtualCamAdapter:
    kind = "virtualcam"

    def __init__(
        self,
        pixel_format: str = "rgb",
        device: str | None = None,
        backend: str | None = None,
        lib: Any = None,
    ) -> None:
        self.lib = lib if lib is not None else import_or_unavailable("pyvirtualcam", "virtualcam")
        self.fmt = getattr(self.lib.PixelFormat, _FORMATS[pixel_format])
        self.device, self.backend = device, backend
        self.camera = None

    def open(self, name: str, size: tuple[int, int], fps: float) -> str:
        kwargs = {k: v for k, v in (("device", self.device), ("backend", self.backend)) if v}
        self.camera = self.lib.Camera(
            width=size[0], height=size[1], fps=fps or 30, fmt=self.fmt, print_fps=False, **kwargs
        )
        return str(getattr(self.camera, "device", name))

    def send(self, frame: np.ndarray, **meta: Any) -> None:
        self.camera.send(np.ascontiguousarray(frame))

    def connections(self) -> int | None:
        return None

    def close(self) -> None:
        camera, self.camera = self.camera, None
        if camera is not None:
            camera.close()


def make(config: Any, lib: Any = None) -> VirtualCamAdapter:
    return VirtualCamAdapter(config.pixel_format, config.device, config.backend, lib=lib)
