"""The one small interface every video output library sits behind (like moderngl-window's
window backends: one adapter module per library, the rest of the show knows only this).

An adapter is made with its config and, for tests, the library object (`lib=`); the real
library is imported only when none is given, so a missing extra costs nothing until used.
Its methods run on the output's own thread, never the render thread:

    open(name, size, fps) -> str   start; returns the name receivers see (NDI may rename)
    send(frame)                    one frame in the adapter's pixel format (Converter.shape)
    close()                        stop; safe to call twice and after a failed open
    connections() -> int | None    receivers connected now, where the library says

Each adapter module also has `unavailable() -> str | None`: why it cannot run on this
machine (platform, missing package or device), for `installation check` and the log.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np


class OutputUnavailable(RuntimeError):
    """This output cannot run here (platform, package, device); the message says why."""


class Adapter(Protocol):
    kind: str

    def open(self, name: str, size: tuple[int, int], fps: float) -> str: ...

    def send(self, frame: np.ndarray, **meta: Any) -> None: ...

    def close(self) -> None: ...

    def connections(self) -> int | None: ...


_MODULES = {
    "ndi": "ndi",
    "syphon": "syphon",
    "spout": "spout",
    "virtualcam": "virtualcam",
    "file": "file",
}


def adapter_module(kind: str):
    return importlib.import_module(f"installation.render.outputs.{_MODULES[kind]}")


def unavailable(kind: str) -> str | None:
    """Why an output of this kind cannot run on this machine, or None if it can."""
    return adapter_module(kind).unavailable()


def make_adapter(config: Any, **kwargs: Any) -> Adapter:
    return adapter_module(config.kind).make(config, **kwargs)


def import_or_unavailable(module: str, extra: str, platform_note: str = ""):
    """Import an optional library, or raise OutputUnavailable naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        note = f" ({platform_note})" if platform_note else ""
        raise OutputUnavailable(
            f"{module} is not installed: pip install 'installation[{extra}]'{note} [{exc}]"
        ) from None
    except OSError as exc:  # a wheel whose native runtime cannot load here
        raise OutputUnavailable(f"{module} cannot load its native library: {exc}") from None


def platform_library(platform: str, os_name: str, module: str, extra: str) -> str | None:
    """Why a library for one platform cannot run here (wrong platform, not installed), or None."""
    import sys

    if not sys.platform.startswith(platform):
        return f"{extra.capitalize()} exists only on {os_name} (this is {sys.platform})"
    try:
        import_or_unavailable(module, extra)
    except OutputUnavailable as exc:
        return str(exc)
    return None
