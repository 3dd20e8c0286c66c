"""Video outputs (NDI, Syphon, Spout, virtual camera, file) behind one adapter interface
(base.py), each on its own thread with a bounded queue (worker.py), fed by the hub (hub.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from installation.errors import UserError
from installation.render.encoder import EncoderError
from installation.render.outputs.base import make_adapter, unavailable
from installation.render.outputs.file import preflight
from installation.render.outputs.hub import OutputHub, converter_for, source_format
from installation.render.outputs.shots import ScreenshotWriter
from installation.render.outputs.worker import OutputWorker

log = logging.getLogger(__name__)

__all__ = ["OutputHub", "build_outputs", "record_video_output"]


def record_video_output(path: Path) -> Any:
    """The `file` output `--record-video PATH` adds (codec from the suffix: .mov is ProRes)."""
    from installation.render.outputs.config import FileOutput

    codec = "prores" if path.suffix.lower() == ".mov" else ("png" if not path.suffix else "h264")
    return FileOutput(kind="file", name="record-video", path=str(path.resolve()), codec=codec)


def _label(config: Any) -> str:
    return f"{config.kind}:{Path(config.path).name if config.kind == 'file' else config.name}"


def build_outputs(
    outputs: Sequence[Any],
    *,
    base_dir: Path,
    display_size: tuple[int, int],
    native_size: tuple[int, int],
    pygame_format: str,
    show_fps: float,
    stats_event: Callable[..., None] | None = None,
    screenshots: bool = True,
    lib: Any = None,
) -> OutputHub:
    """Workers for the enabled outputs (not started). Refuses, before the show starts, a
    recording it could not write; an output whose library is missing is logged and left
    out, and the show plays on."""
    src = source_format(pygame_format)
    workers = []
    for config in outputs:
        if not config.enabled:
            continue
        label = _label(config)
        reason = unavailable(config.kind) if lib is None else None
        if reason:
            log.error("output %s cannot run here: %s; the show plays without it", label, reason)
            continue
        if config.size == "native":
            source, size = "native", native_size
        elif config.size == "display" or tuple(config.size) == tuple(display_size):
            source, size = "display", display_size
        else:
            source, size = "native", tuple(config.size)
        src_size = native_size if source == "native" else display_size
        # A file is written at a steady rate: the show's cap (30 when uncapped) unless set.
        fps = config.fps or ((show_fps or 30.0) if config.kind == "file" else 0.0)
        if config.kind == "file":  # a take that could not be written is refused now
            path = Path(config.path).expanduser()
            try:
                preflight(
                    path if path.is_absolute() else base_dir / path,
                    config.codec,
                    size,
                    fps,
                    config.options,
                )
            except EncoderError as exc:
                raise UserError(f"outputs: {label}: {exc}") from None
        converter = converter_for(
            size, src_size, src, config.pixel_format, config.fit, src_opaque=source == "native"
        )
        kwargs = {"base_dir": base_dir} if config.kind == "file" else {}
        if lib is not None:
            kwargs["lib"] = lib

        def factory(config=config, kwargs=kwargs):
            return make_adapter(config, **kwargs)

        workers.append(
            OutputWorker(
                label,
                factory,
                converter,
                name=config.name,
                fps=fps,
                queue=config.queue,
                source=source,
            )
        )
    shots = None
    if screenshots and unavailable("file") is None:
        shots = ScreenshotWriter(display_size, src)  # its process starts at the first shot
    return OutputHub(
        workers,
        display_size=display_size,
        native_size=native_size,
        src_format=src,
        screenshots=shots,
        stats_event=stats_event,
    )
