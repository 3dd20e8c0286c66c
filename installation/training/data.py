"""Training images: a folder (searched recursively) or a procedural set, held in memory.

Decoding is torchvision's (`torchvision.io.decode_image`; Pillow through torchvision's own
`pil_loader` for BMP and TIFF, which torchvision.io cannot read). Every file is decoded once
up front: that is the only honest way to count and name the unreadable ones before training
starts, and on a CPU it saves decoding each image again every epoch. Images are kept as uint8
squares a little larger than the training resolution (short side resized, centre-cropped),
so each batch gets a fresh random crop and flip cheaply. Memory: about 3 x (1.125 R)^2 bytes
an image, e.g. 620 MB for 10,000 images at 128 px.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision.io as tvio
import torchvision.transforms.v2.functional as TF
from torchvision.datasets.folder import pil_loader

from installation.training import synth
from installation.training.config import TrainingError

log = logging.getLogger(__name__)

TORCHVISION_IO = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
PIL_ONLY = {".bmp", ".tif", ".tiff"}
IMAGE_EXTENSIONS = TORCHVISION_IO | PIL_ONLY


class DatasetError(TrainingError):
    """An empty, missing or wholly unreadable dataset."""


@dataclass
class ImageSet:
    """uint8 images [N, C, S, S] with S >= resolution; `batch` crops, flips and scales."""

    images: torch.Tensor
    resolution: int
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    flip: bool = True

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def batch(self, indices: list[int], generator: torch.Generator) -> torch.Tensor:
        """Float images in [-1, 1], [len(indices), C, R, R]: random crop, random flip."""
        r, s = self.resolution, self.images.shape[-1]
        offsets = torch.randint(0, s - r + 1, (len(indices), 2), generator=generator).tolist()
        flips = (torch.rand(len(indices), generator=generator) < 0.5).tolist()
        out = []
        for i, (oy, ox), flip in zip(indices, offsets, flips, strict=True):
            img = self.images[i, :, oy : oy + r, ox : ox + r]
            out.append(img.flip(-1) if flip and self.flip else img)
        return torch.stack(out).float().div_(127.5).sub_(1.0)


def _to_channels(img: torch.Tensor, channels: int) -> torch.Tensor:
    """[C, H, W] uint8 with 1-4 channels -> `channels` channels; alpha composited on black
    (transparent pixels often hide arbitrary colours that must not leak into training)."""
    if img.dtype != torch.uint8:  # 16-bit PNGs
        img = TF.to_dtype(img, torch.uint8, scale=True)
    c = img.shape[0]
    if c in (2, 4):
        alpha = img[-1:].float() / 255.0
        img = (img[:-1].float() * alpha).round().to(torch.uint8)
    if img.shape[0] == 1 and channels == 3:
        img = img.expand(3, -1, -1)
    elif img.shape[0] == 3 and channels == 1:
        img = TF.rgb_to_grayscale(img)
    return img.contiguous()


def decode_file(path: Path) -> torch.Tensor:
    """[C, H, W] uint8 (C in 1..4) of the first frame; raises on anything unreadable."""
    suffix = path.suffix.lower()
    if suffix in PIL_ONLY:
        return TF.pil_to_tensor(pil_loader(str(path)))
    img = tvio.decode_image(tvio.read_file(str(path)), mode=tvio.ImageReadMode.UNCHANGED)
    if img.ndim == 4:  # an animated GIF: its first frame
        img = img[0]
    return img


def _square(img: torch.Tensor, size: int) -> torch.Tensor:
    img = TF.resize(img, [size], antialias=True)  # short side -> size, aspect kept
    return TF.center_crop(img, [size, size])


def list_files(folder: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files under `folder` (recursive, sorted) and other files skipped with why.
    Hidden files and folders (.DS_Store, .git) are ignored silently."""
    images, skipped = [], []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                skipped.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
    return images, skipped


def load_folder(
    folder: Path, resolution: int, channels: int, *, flip: bool = True, warn: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} does not exist (or is not a folder)")
    paths, skipped = list_files(folder)
    if not paths:
        raise DatasetError(
            f"dataset folder {folder} holds no images "
            f"({', '.join(sorted(IMAGE_EXTENSIONS))}, searched recursively)"
        )
    size = resolution + resolution // 8  # room for a random crop

    def load(path: Path) -> torch.Tensor | str:
        try:
            img = decode_file(path)
            if img.ndim != 3 or img.shape[0] not in (1, 2, 3, 4) or min(img.shape[1:]) < 1:
                return f"unexpected image shape {tuple(img.shape)}"
            return _square(_to_channels(img, channels), size)
        except Exception as exc:  # any decoder error means "skip this file", never a crash
            return f"unreadable ({type(exc).__name__}: {str(exc).strip()[:120]})"

    kept = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        for i, (path, result) in enumerate(zip(paths, pool.map(load, paths), strict=True)):
            if isinstance(result, str):
                skipped.append((str(path), result))
            else:
                kept.append(result)
            if progress:
                progress(i + 1, len(paths))
    if warn:
        for path, why in skipped:
            log.warning("skipping %s: %s", path, why)
        if skipped:
            total = len(paths) + sum(1 for _, why in skipped if why.startswith("unsupported"))
            log.warning("skipped %d of %d files in %s", len(skipped), total, folder)
    if not kept:
        raise DatasetError(f"none of the {len(paths)} image files in {folder} could be read")
    return ImageSet(torch.stack(kept), resolution, str(folder), skipped, flip)


def load_synthetic(
    kind: str, n: int, resolution: int, channels: int, *, seed: int = 0, flip: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    if kind not in synth.KINDS:
        raise DatasetError(f"unknown synthetic dataset {kind!r} (known: {', '.join(synth.KINDS)})")
    # Render at the training resolution exactly: the drawings are already anti-aliased.
    images = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        for i, arr in enumerate(pool.map(lambda k: synth.render(kind, seed, k, resolution), range(n))):
            images.append(_to_channels(torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1), channels))
            if progress:
                progress(i + 1, n)
    return ImageSet(torch.stack(images), resolution, f"synthetic:{kind}", [], flip)


def load_dataset(
    spec: str, resolution: int, channels: int, *, synthetic_n: int = 2048, seed: int = 0,
    flip: bool = True, warn: bool = True, progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    """`spec` is a folder, or `synthetic:<kind>` (drawn with `seed`, `synthetic_n` images)."""
    if spec.startswith("synthetic:"):
        return load_synthetic(spec.split(":", 1)[1], synthetic_n, resolution, channels, seed=seed,
                              flip=flip, progress=progress)
    return load_folder(Path(spec), resolution, channels, flip=flip, warn=warn, progress=progress)


class StepSampler:
    """Which images make batch `step` on `rank`: a distributed sampler with no state.

    Positions run through epoch permutations seeded by (seed, epoch); the global batch of
    a step is `batch x world` consecutive positions and each rank takes its own slice. A
    pure function of the step, so a resumed run sees exactly the batches it would have
    seen, and ranks never overlap. A dataset smaller than a batch simply wraps around.
    """

    def __init__(self, n: int, batch: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch, self.seed, self.rank, self.world = n, batch, seed, rank, world
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perms[epoch] = torch.randperm(self.n, generator=gen).tolist()
        return self._perms[epoch]

    def indices(self, step: int) -> list[int]:
        start = (step * self.world + self.rank) * self.batch
        return [self._perm(pos // self.n)[pos % self.n] for pos in range(start, start + self.batch)]
