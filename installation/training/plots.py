"""Pictures of a training run: sample grids and the loss curve, as PNG files.

The loss curve is drawn with Pillow (no plotting library to install): each series raw in a
faint line, smoothed in a strong one, on a shared axis with a legend and step labels.
Both are written atomically, since a show or a browser may be looking at them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from installation.checkpoints import atomic_write_bytes

COLORS = [(230, 90, 70), (70, 150, 230), (90, 190, 110), (220, 170, 60)]


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def grid_image(images: torch.Tensor, nrow: int = 8, scale: int = 1) -> Image.Image:
    """[B, C, H, W] in [-1, 1] -> one PIL image, `nrow` per row, 2 px dark gutters."""
    grid = make_grid(
        images.float().clamp(-1, 1).add(1).div(2), nrow=nrow, padding=2, pad_value=0.05
    )
    arr = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    img = Image.fromarray(arr)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def save_grid(path: Path, images: torch.Tensor, nrow: int = 8) -> None:
    scale = max(1, 256 // images.shape[-1]) if images.shape[-1] < 64 else 1
    atomic_write_bytes(Path(path), _png(grid_image(images, nrow, scale)))


def _smooth(values: np.ndarray, span: int) -> np.ndarray:
    if len(values) < 3 or span <= 1:
        return values
    alpha = 2.0 / (span + 1)
    out = np.empty_like(values)
    acc = values[0]
    for i, v in enumerate(values):
        acc = alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


def axis_range(finite: np.ndarray) -> tuple[float, float]:
    """A panel's value axis: the 1st to 99th percentile (a spike must not flatten the rest)
    with a margin, never below zero for a loss that never was (MSE, BCE, KL)."""
    lo, hi = float(np.percentile(finite, 1)), float(np.percentile(finite, 99))
    pad = (hi - lo) * 0.08 or 1.0
    floor = 0.0 if float(finite.min()) >= 0 else -math.inf
    return max(lo - pad, floor), hi + pad


def _panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    xs: np.ndarray,
    values: np.ndarray,
    name: str,
    color: tuple[int, int, int],
) -> None:
    """One loss in its own panel with its own scale: a raw faint line, a smoothed strong one."""
    font = ImageFont.load_default()
    x_left, y_top, x_right, y_bottom = box
    n = min(len(values), len(xs))
    xs, values = xs[:n], values[:n]
    finite = values[np.isfinite(values)]
    draw.text((x_left + 6, y_top + 2), name, fill=color, font=font)
    if len(finite) < 2:
        return
    lo, hi = axis_range(finite)
    x0, x1 = float(xs[0]), max(float(xs[-1]), float(xs[0]) + 1)

    def px(x: float, y: float) -> tuple[float, float]:
        return (
            x_left + (x - x0) / (x1 - x0) * (x_right - x_left),
            y_top + 14 + (1 - (min(max(y, lo), hi) - lo) / (hi - lo)) * (y_bottom - y_top - 14),
        )

    for i in range(3):  # grid lines with value labels
        y = lo + (hi - lo) * i / 2
        _, yy = px(x0, y)
        draw.line([(x_left, yy), (x_right, yy)], fill=(228, 228, 225))
        draw.text((4, yy - 6), f"{y:.3g}", fill=(90, 90, 90), font=font)
    faint = tuple(int(c + (250 - c) * 0.7) for c in color)
    raw = [px(x, y) for x, y in zip(xs, values, strict=True) if math.isfinite(y)]
    draw.line(raw, fill=faint, width=1)
    smooth = _smooth(np.nan_to_num(values, nan=lo), max(5, n // 50))
    draw.line([px(x, y) for x, y in zip(xs, smooth, strict=True)], fill=color, width=2)


def loss_curve_image(
    history: dict[str, Sequence[float]],
    steps: Sequence[int],
    title: str,
    size: tuple[int, int] = (900, 420),
) -> Image.Image:
    """Each loss in its own panel (a VAE's per-pixel error and its KL in nats differ by
    orders of magnitude), sharing the step axis at the bottom."""
    w, h = size
    left, right, top, bottom = 64, 16, 28, 34
    img = Image.new("RGB", size, (250, 250, 248))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    draw.text((left, 8), title, fill=(30, 30, 30), font=font)
    xs = np.asarray(steps, dtype=np.float64)
    series = [(k, np.asarray(v, dtype=np.float64)) for k, v in history.items()]
    if len(xs) < 2 or not series:
        draw.text((left, h // 2), "not enough steps yet", fill=(120, 120, 120), font=font)
        return img
    gap = 10
    panel_h = (h - top - bottom - gap * (len(series) - 1)) // len(series)
    for i, (name, values) in enumerate(series):
        y0 = top + i * (panel_h + gap)
        _panel(draw, (left, y0, w - right, y0 + panel_h), xs, values, name, COLORS[i % len(COLORS)])
    x0, x1 = float(xs[0]), max(float(xs[-1]), float(xs[0]) + 1)
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        xx = left + (x - x0) / (x1 - x0) * (w - left - right)
        draw.text((xx - 12, h - bottom + 10), f"{int(round(x))}", fill=(90, 90, 90), font=font)
    draw.text((w - right - 30, h - 14), "step", fill=(90, 90, 90), font=font)
    return img


def save_loss_curve(
    path: Path, history: dict[str, Sequence[float]], steps: Sequence[int], title: str
) -> None:
    atomic_write_bytes(Path(path), _png(loss_curve_image(history, steps, title)))
