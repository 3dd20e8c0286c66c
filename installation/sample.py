"""`installation sample MODEL [--seeds 1-16 | --z FILE.npy] [--psi P] [--noise MODE] --out OUT`.

An artist picks keyframe seeds by looking: a PNG grid with each picture labelled by its seed.
`.npy` writes the raw float32 generator output [N, C, H, W] (what the correctness tests
compare); a directory gets the grid plus one PNG per seed. Works for every architecture: a
style-based model gets psi as truncation toward w_avg and a noise mode; the package's own
DCGAN/MLP/VAE scale z by psi, as the show's truncation does.

Seed s draws z = numpy RandomState(s).standard_normal(latent_dim), the convention of NVIDIA's
own tools, so seeds an artist already knows give the same pictures here.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from installation.checkpoints import CheckpointError, atomic_write_bytes, load_checkpoint
from installation.errors import UserError
from installation.networks.stylegan_base import NOISE_MODES, StyleControls
from installation.training.progress import Progress

log = logging.getLogger(__name__)

MAX_SEEDS = 1024
LABEL_HEIGHT = 18


class SampleError(Exception):
    """Bad arguments or an unreadable model: one message, exit 2."""


def parse_seeds(text: str) -> list[int]:
    """ "1-16", "3,7,42" or "1-4,9" -> seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise SampleError(f"--seeds: {part!r} is not a seed or a range like 1-16") from None
    if not seeds or len(seeds) > MAX_SEEDS:
        raise SampleError(f"--seeds must name 1 to {MAX_SEEDS} seeds, got {len(seeds)}")
    if any(s < 0 or s >= 2**32 for s in seeds):
        raise SampleError("--seeds must be in 0..4294967295")
    return seeds


def seed_latents(seeds: list[int], latent_dim: int) -> np.ndarray:
    return np.stack([np.random.RandomState(s).standard_normal(latent_dim) for s in seeds]).astype(
        np.float32
    )


def load_latents(path: Path, latent_dim: int) -> np.ndarray:
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SampleError(f"--z {path}: not a readable .npy array ({exc})") from None
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != latent_dim or not 1 <= z.shape[0] <= MAX_SEEDS:
        raise SampleError(
            f"--z {path}: shape {z.shape}, the model needs [N, {latent_dim}] with N <= {MAX_SEEDS}"
        )
    if not np.isfinite(z).all():
        raise SampleError(f"--z {path}: holds NaN or infinite values")
    return z.astype(np.float32)


@torch.inference_mode()
def generate(
    module: torch.nn.Module,
    z: np.ndarray,
    psi: float,
    noise: str,
    batch: int = 8,
    progress: bool = True,
) -> np.ndarray:
    """Raw float32 outputs [N, C, H, W] for latents z [N, latent_dim]."""
    styled = getattr(module, "styled", False)
    out = []
    bar = Progress(len(z), desc="sample", enabled=progress and len(z) > batch, unit="image")
    for start in range(0, len(z), batch):
        zt = torch.from_numpy(z[start : start + batch])
        if styled:
            images = module.decode(zt, StyleControls(psi=psi, noise_mode=noise))  # type: ignore[operator]
        else:
            images = module.decode(zt * psi)  # type: ignore[operator]
        out.append(images.float().cpu().numpy())
        bar.update(start + len(zt))
    return np.concatenate(out).astype(np.float32)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.shape[0] == 1:
        img = np.repeat(img, 3, axis=0)
    return (np.clip(img[:3].transpose(1, 2, 0), -1, 1) * 127.5 + 127.5).round().astype(np.uint8)


def labelled_grid(images: np.ndarray, labels: list[str], columns: int | None = None) -> Image.Image:
    """Tiles (upscaled to >= 128 px so tiny models stay legible), each with its label below."""
    n, _, h, w = images.shape
    cols = columns or min(n, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    scale = max(1, 128 // max(h, w))
    tw, th = w * scale, h * scale
    gap = 4
    sheet = Image.new(
        "RGB", (cols * (tw + gap) + gap, rows * (th + LABEL_HEIGHT + gap) + gap), (16, 16, 16)
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        x = gap + (i % cols) * (tw + gap)
        y = gap + (i // cols) * (th + LABEL_HEIGHT + gap)
        tile = Image.fromarray(_to_uint8(img))
        if scale > 1:
            tile = tile.resize((tw, th), Image.Resampling.NEAREST)
        sheet.paste(tile, (x, y))
        draw.text((x + 2, y + th + 3), label, fill=(230, 230, 230), font=font)
    return sheet


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_outputs(out: Path, images: np.ndarray, labels: list[str]) -> list[Path]:
    suffix = out.suffix.lower()
    if suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, images.astype(np.float32))
        atomic_write_bytes(out, buf.getvalue())
        return [out]
    if suffix == ".png":
        atomic_write_bytes(out, _png_bytes(labelled_grid(images, labels)))
        return [out]
    if suffix:
        raise SampleError(f"--out {out}: use a .png grid, a .npy array or a directory")
    written = [out / "grid.png"]
    atomic_write_bytes(written[0], _png_bytes(labelled_grid(images, labels)))
    for img, label in zip(images, labels, strict=True):
        path = out / f"{label.replace(' ', '')}.png"
        atomic_write_bytes(path, _png_bytes(Image.fromarray(_to_uint8(img))))
        written.append(path)
    return written


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="model folder (models/NAME)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--seeds", default="1-16", help="seeds: 1-16, 3,7,42 or 1-4,9 (default 1-16)")
    src.add_argument(
        "--z", type=Path, metavar="FILE.npy", help="latents [N, latent_dim] instead of seeds"
    )
    p.add_argument(
        "--psi",
        type=float,
        default=None,
        help="truncation: psi toward w_avg for StyleGAN (default 0.7), z scale otherwise (default 1)",
    )
    p.add_argument(
        "--noise", choices=NOISE_MODES, default="const", help="StyleGAN noise (default const)"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE.png|FILE.npy|DIR")
    p.add_argument("--batch", type=int, default=8, help="images per forward pass (default 8)")


def run_sample(args: argparse.Namespace) -> int:
    try:
        loaded = load_checkpoint(args.model)
        module = loaded.module
        styled = getattr(module, "styled", False)
        psi = args.psi if args.psi is not None else (0.7 if styled else 1.0)
        if not math.isfinite(psi) or not -4 <= psi <= 4:
            raise SampleError(f"--psi {psi}: use a value between -4 and 4")
        if args.z is not None:
            z = load_latents(args.z, loaded.latent_dim)
            labels = [f"z {i}" for i in range(len(z))]
        else:
            seeds = parse_seeds(args.seeds)
            z = seed_latents(seeds, loaded.latent_dim)
            labels = [f"seed {s}" for s in seeds]
        images = generate(module, z, psi, args.noise, max(1, args.batch))
        written = write_outputs(args.out, images, labels)
    except (SampleError, CheckpointError) as exc:
        raise UserError(str(exc)) from None
    log.info(
        "wrote %s (%d images, %s, psi %.2f)", written[0], len(images), loaded.card.architecture, psi
    )
    return 0
