"""Training images: a folder (searched recursively) or a procedural set, held in memory.

Files are opened the way torchvision's own ImageFolder opens them (Pillow's decoders: JPEG,
PNG, WebP, GIF, BMP, TIFF; torchvision.io's decoders are deprecated as of torchvision 0.29)
and go through torchvision's transforms (resize with antialiasing, crop, flip). Grayscale,
palette and 16-bit images become RGB; transparency is composited on black. Every file is
decoded once up front: that is the only honest way to count and name the unreadable ones
before training starts, and on a CPU it saves decoding each image again every epoch. Images
are kept as uint8 squares a little larger than the training resolution (short side resized,
centre-cropped), so each batch gets a fresh random crop and flip cheaply. Memory: about
3 x (1.125 R)^2 bytes an image, e.g. 620 MB for 10,000 images at 128 px.
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
import torchvision.transforms.v2.functional as TF
from PIL import Image

from installation.training import synth
from installation.training.config import TrainingError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
# What `installation dataset prepare` writes beside the images: not training data.
PREPARE_OUTPUTS = {"report.json", "report.txt", "contact-sheet.png"}


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
            out.append(TF.horizontal_flip(img) if flip and self.flip else img)
        return torch.stack(out).float().div_(127.5).sub_(1.0)


def _rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparent pixels composited on black (they often hide
    arbitrary colours that must not leak into training)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16/32-bit grey: scale, then grey
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray((np.clip(arr / top, 0, 1) * 255).round().astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return img.convert("RGB")


def decode_file(path: Path, channels: int = 3) -> torch.Tensor:
    """[channels, H, W] uint8 of the (first frame of the) image; raises if unreadable."""
    with Image.open(path) as img:
        img.load()  # decode now: a truncated file fails here, not later
        rgb = _rgb(img)
    tensor = TF.pil_to_tensor(rgb)
    return TF.rgb_to_grayscale(tensor) if channels == 1 else tensor


def _square(img: torch.Tensor, size: int) -> torch.Tensor:
    img = TF.resize(img, [size], antialias=True)  # short side -> size, aspect kept
    return TF.center_crop(img, [size, size])


def list_files(
    folder: Path, exclude: Path | None = None
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files under `folder` (recursive, sorted) and other files skipped with why.
    Hidden files and folders (.DS_Store, .git) are ignored silently, and so is `exclude`
    (the run's own output folder: its sample grids must not become training data)."""
    images, skipped = [], []
    skip = Path(exclude).resolve() if exclude is not None else None
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() != skip
        )
        for name in sorted(files):
            if name.startswith(".") or name in PREPARE_OUTPUTS:
                continue
            path = Path(root) / name
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                skipped.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
    return images, skipped


def load_folder(
    folder: Path,
    resolution: int,
    channels: int,
    *,
    flip: bool = True,
    warn: bool = True,
    progress: Callable[[int, int], None] | None = None,
    exclude: Path | None = None,
) -> ImageSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} does not exist (or is not a folder)")
    paths, skipped = list_files(folder, exclude)
    if not paths:
        raise DatasetError(
            f"dataset folder {folder} holds no images "
            f"({', '.join(sorted(IMAGE_EXTENSIONS))}, searched recursively)"
        )
    size = resolution + resolution // 8  # room for a random crop

    def load(path: Path) -> torch.Tensor | str:
        try:
            return _square(decode_file(path, channels), size)
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
    kind: str,
    n: int,
    resolution: int,
    channels: int,
    *,
    seed: int = 0,
    flip: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    if kind not in synth.KINDS:
        raise DatasetError(f"unknown synthetic dataset {kind!r} (known: {', '.join(synth.KINDS)})")
    # Render at the training resolution exactly: the drawings are already anti-aliased.
    images = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        for i, arr in enumerate(
            pool.map(lambda k: synth.render(kind, seed, k, resolution), range(n))
        ):
            img = torch.from_numpy(arr).permute(2, 0, 1)
            images.append((TF.rgb_to_grayscale(img) if channels == 1 else img).contiguous())
            if progress:
                progress(i + 1, n)
    return ImageSet(torch.stack(images), resolution, f"synthetic:{kind}", [], flip)


def load_dataset(
    spec: str,
    resolution: int,
    channels: int,
    *,
    synthetic_n: int = 2048,
    seed: int = 0,
    flip: bool = True,
    warn: bool = True,
    progress: Callable[[int, int], None] | None = None,
    exclude: Path | None = None,
) -> ImageSet:
    """`spec` is a folder, or `synthetic:<kind>` (drawn with `seed`, `synthetic_n` images)."""
    if spec.startswith("synthetic:"):
        return load_synthetic(
            spec.split(":", 1)[1],
            synthetic_n,
            resolution,
            channels,
            seed=seed,
            flip=flip,
            progress=progress,
        )
    return load_folder(
        Path(spec), resolution, channels, flip=flip, warn=warn, progress=progress, exclude=exclude
    )


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
