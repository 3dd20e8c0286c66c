"""An offline render's frames into a video file, through the one encoder module.

The render loop writes each frame as a BMP (the path `--out DIR` takes, with BMP instead of
PNG: 70x faster to write at 1080p), so the frames are the deterministic ones; this encodes
them in order, deleting each once it is in the
video, with a progress bar. H.264 for .mp4/.mkv, ProRes for .mov where FFmpeg has it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from installation.render.encoder import VideoEncoder, available_codecs
from installation.training.progress import Progress

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")


def codec_for(path: Path) -> str:
    if path.suffix.lower() == ".mov" and "prores" in available_codecs():
        return "prores"
    return "h264"


def encode_frames(folder: Path, out: Path, fps: float) -> int:
    """Encode folder/frame_*.bmp (or .png) into `out`; returns the frames written."""
    frames = sorted(folder.glob("frame_*.bmp")) or sorted(folder.glob("frame_*.png"))
    if not frames:
        return 0
    with Image.open(frames[0]) as first:
        size = first.size
    bar = Progress(len(frames), desc=f"encode {out.name}", unit="frame")
    with VideoEncoder(out, size=size, fps=fps, codec=codec_for(out)) as encoder:
        for i, path in enumerate(frames, 1):
            with Image.open(path) as image:
                encoder.write(np.asarray(image.convert("RGB")))
            path.unlink()
            bar.update(i)
    bar.close()
    return len(frames)
