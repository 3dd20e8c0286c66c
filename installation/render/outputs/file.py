"""Live recording (kind `file`, or `--record-video FILE`) through the one encoder
(render/encoder.py) on the output's own thread (screenshots: shots.py).

A recording keeps real time: when the show runs slower than the file's frame rate, a frame
is written again (up to 4 times) so the video plays at the show's pace. A full disk stops
the recording (DiskFull: final, no retry) with a message; the show goes on. A folder that
cannot be written is refused before the show starts (`preflight`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from installation.render.encoder import (
    VideoEncoder,
    ensure_writable,
)

log = logging.getLogger(__name__)

MAX_REPEATS = 4


def unavailable() -> str | None:
    try:
        import av  # noqa: F401
    except ImportError:
        return "PyAV is not installed: pip install 'installation[video]'"
    return None


def free_name(path: Path) -> Path:
    """`path`, or path-2, path-3 ... if taken: a restarted show never overwrites a take."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return path  # an empty folder (a PNG sequence's, made by preflight) is free too
    n = 2
    while (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists():
        n += 1
    return candidate


def preflight(
    path: Path, codec: str, size: tuple[int, int], fps: float, options: dict[str, str] | None = None
) -> None:
    """Refuse, before the show starts, a take that could not be written: a folder that is
    read-only, or a codec, size or option the encoder refuses (a trial file, removed)."""
    ensure_writable(path if codec == "png" else path.parent)
    if codec != "png":
        trial = path.with_name(f".{path.stem}.trial{path.suffix}")
        try:
            VideoEncoder(trial, size, fps, codec, options=options).close()
        finally:
            trial.unlink(missing_ok=True)


class FileAdapter:
    kind = "file"

    def __init__(
        self,
        path: Path,
        codec: str = "h264",
        options: dict[str, str] | None = None,
        clock=time.monotonic,
    ) -> None:
        self.path, self.codec, self.options = Path(path), codec, dict(options or {})
        self.clock = clock
        self.encoder: VideoEncoder | None = None
        self._t0: float | None = None

    def open(self, name: str, size: tuple[int, int], fps: float) -> str:
        self.fps = fps or 30.0
        target = free_name(self.path)
        self.encoder = VideoEncoder(target, size, self.fps, self.codec, options=self.options)
        self._t0 = None
        return str(target)

    def send(self, frame: np.ndarray, **meta: Any) -> None:
        assert self.encoder is not None
        now = self.clock()
        if self._t0 is None:
            self._t0 = now
        due = int((now - self._t0) * self.fps) + 1  # frames the file should hold by now
        # Early frames (due already met) are skipped; late ones fill the gap, up to a limit.
        for _ in range(max(0, min(MAX_REPEATS, due - self.encoder.frames_written))):
            self.encoder.write(frame)

    def connections(self) -> int | None:
        return None

    def close(self) -> None:
        encoder, self.encoder = self.encoder, None
        if encoder is not None:
            encoder.close()


def make(config: Any, base_dir: Path = Path("."), lib: Any = None) -> FileAdapter:
    path = Path(config.path).expanduser()
    return FileAdapter(
        path if path.is_absolute() else base_dir / path, config.codec, config.options
    )
