"""Keyframes from images: a request queues the image with the projector (a worker thread
with its own copy of the generator, instruments/project.py); each frame collects what it
finished, and the progress goes out as the parameter `projection.progress`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from installation.events import ControlEvent

if TYPE_CHECKING:  # torch stays out until an image is asked for
    import numpy as np

    from installation.checkpoints import LoadedModel
    from installation.instruments.project import Projector


class ImageKeyframes:
    def __init__(self, note: Callable[..., None], base_dir: Path) -> None:
        self.note, self.base_dir = note, base_dir
        self.projector: Projector | None = None

    def submit(self, text: str, model: LoadedModel | None) -> None:
        if not text or model is None:
            self.note("keyframe.image: give the path of an image")
            return
        path = Path(text).expanduser()
        path = path if path.is_absolute() else self.base_dir / path
        if self.projector is None:
            from installation.instruments.project import Projector  # torch, only when used

            self.projector = Projector()
        self.projector.submit(path, model)
        self.note(f"{path.name}: queued for a keyframe")

    def collect(
        self, targets: Mapping[str, float], add: Callable[[np.ndarray, str], None]
    ) -> list[ControlEvent]:
        """Finished projections become keyframes (`add`); the progress, when it moved."""
        p = self.projector
        if p is None:
            return []
        for result in p.results():
            self.note(result.message, 10.0)
            if result.z is not None:
                add(result.z, result.name)
        progress = round(p.progress, 2)
        if progress != targets.get("projection.progress", 0.0):  # controllers hear it
            return [ControlEvent("projection.progress", progress, source="projection")]
        return []

    def close(self) -> None:
        if self.projector is not None:
            self.projector.close()
