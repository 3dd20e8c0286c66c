"""Keyframes from images: a VAE encodes one directly; a GAN (DCGAN, StyleGAN, few-shot)
gets one by projection, optimising a latent until the generator draws the image (Adam on
the pixel error, from the best of a few random starts).

It all runs on a worker thread with its own copy of the generator (the render thread keeps
the playing one to itself); the show polls for progress and results once a frame. An image
that is not one gets a clear message; a huge one is downscaled, with a note.
"""

from __future__ import annotations

import copy
import logging
import math
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from installation.checkpoints import LoadedModel

log = logging.getLogger(__name__)

MAX_PIXELS = 4096 * 4096  # beyond this PIL's decompression-bomb guard would refuse it anyway
STEPS = 600
TARGET_LOSS = 0.005  # mean squared error in [-1, 1] units (RMSE 0.07): recognisably the picture
STARTS = 8


class ImageError(ValueError):
    """The file cannot be a keyframe; the message says why."""


def load_image(path: Path, resolution: int) -> tuple[torch.Tensor, str]:
    """(the image as [1, 3, R, R] in [-1, 1], a note or ""): centre-cropped to a square."""
    try:
        with Image.open(path) as image:
            w, h = image.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{path}: {w}x{h} is too large (more than {MAX_PIXELS} pixels)")
            rgb = image.convert("RGB")
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path}: not an image PIL can read ({type(exc).__name__})") from None
    side = min(w, h)
    rgb = rgb.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
    note = (
        f"{path.name}: {w}x{h} downscaled to {resolution}x{resolution}" if side > resolution else ""
    )
    rgb = rgb.resize((resolution, resolution), Image.Resampling.LANCZOS)
    x = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
    return x, note


def project(
    module: torch.nn.Module,
    latent_dim: int,
    target: torch.Tensor,
    *,
    steps: int = STEPS,
    target_loss: float = TARGET_LOSS,
    seed: int = 0,
    progress=None,
) -> tuple[np.ndarray, float]:
    """The latent whose picture is closest to `target` ([1, C, R, R] in [-1, 1]), and its loss."""
    gen = torch.Generator().manual_seed(seed)
    if target.shape[1] == 3 and getattr(module, "channels", 3) == 1:
        target = target.mean(1, keepdim=True)
    with torch.no_grad():
        starts = torch.randn(STARTS, latent_dim, generator=gen)
        errors = ((module.decode(starts) - target) ** 2).flatten(1).mean(1)
    z = starts[int(errors.argmin())].clone()[None].requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    loss_value = float(errors.min())
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss = ((module.decode(z) - target) ** 2).mean()
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
        if progress is not None:
            progress(step / steps, loss_value)
        if loss_value <= target_loss:
            break
    return z.detach()[0].numpy().astype(np.float32), loss_value


@dataclass(frozen=True)
class Result:
    name: str
    z: np.ndarray | None  # None: it failed, see `message`
    message: str


class Projector:
    """One image at a time, on a worker thread; newest progress in `status`."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Path, LoadedModel] | None] = queue.Queue()
        self._results: queue.Queue[Result] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.status = ""  # "projecting cat.png: 40% loss 0.031"
        self.progress = 0.0

    def submit(self, path: Path, model: LoadedModel) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="projection", daemon=True)
            self._thread.start()
        self._jobs.put((path, model))

    def results(self) -> list[Result]:
        out = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            path, model = job
            try:
                self._results.put(self._one(path, model))
            except Exception as exc:  # a worker must never die silently
                log.exception("projecting %s failed", path)
                self._results.put(
                    Result(path.name, None, f"{path.name}: projection failed ({exc})")
                )
            self.status, self.progress = "", 0.0

    def _one(self, path: Path, model: LoadedModel) -> Result:
        try:
            target, note = load_image(path, model.card.resolution)
        except ImageError as exc:
            return Result(path.name, None, str(exc))
        if note:
            self._results.put(Result(path.name, None, note))
        # Our own copy on the CPU in fp32: the playing model stays the render thread's.
        module = copy.deepcopy(model.module).to("cpu", torch.float32).eval().requires_grad_(False)
        encode = getattr(module, "encode", None)
        if callable(encode):
            with torch.no_grad():
                mu, _ = encode(target)
            return Result(path.name, mu[0].numpy().astype(np.float32), f"{path.name}: encoded")

        def progress(done: float, loss: float) -> None:
            self.progress = done
            self.status = f"projecting {path.name}: {100 * done:3.0f}%  loss {loss:.4f}"

        z, loss = project(module, model.latent_dim, target, progress=progress)
        if not math.isfinite(loss):
            return Result(path.name, None, f"{path.name}: projection diverged")
        return Result(path.name, z, f"{path.name}: projected, loss {loss:.4f}")

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=5)
