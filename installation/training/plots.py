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
    grid = make_grid(images.float().clamp(-1, 1).add(1).div(2), nrow=nrow, padding=2, pad_value=0.05)
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


def loss_curve_image(history: dict[str, Sequence[float]], steps: Sequence[int], title: str,
                     size: tuple[int, int] = (900, 420)) -> Image.Image:
    w, h = size
    left, right, top, bottom = 64, 16, 34, 40
    img = Image.new("RGB", size, (250, 250, 248))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    draw.text((left, 10), title, fill=(30, 30, 30), font=font)
    xs = np.asarray(steps, dtype=np.float64)
    series = {k: np.asarray(v, dtype=np.float64) for k, v in history.items() if len(v)}
    finite = [v[np.isfinite(v)] for v in series.values()]
    finite = [v for v in finite if len(v)]
    if not finite or len(xs) < 2:
        draw.text((left, h // 2), "not enough steps yet", fill=(120, 120, 120), font=font)
        return img
    allv = np.concatenate(finite)
    lo, hi = np.percentile(allv, 1), np.percentile(allv, 99)  # one spike must not flatten the rest
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad
    x0, x1 = float(xs[0]), float(xs[-1]) if xs[-1] > xs[0] else float(xs[0]) + 1

    def px(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x0) / (x1 - x0) * (w - left - right),
                top + (1 - (min(max(y, lo), hi) - lo) / (hi - lo)) * (h - top - bottom))

    for i in range(5):  # horizontal grid lines with value labels
        y = lo + (hi - lo) * i / 4
        _, yy = px(x0, y)
        draw.line([(left, yy), (w - right, yy)], fill=(225, 225, 222))
        draw.text((4, yy - 6), f"{y:.3g}", fill=(90, 90, 90), font=font)
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        xx, _ = px(x, lo)
        draw.text((xx - 12, h - bottom + 8), f"{int(round(x))}", fill=(90, 90, 90), font=font)
    draw.text((w - right - 40, h - 16), "step", fill=(90, 90, 90), font=font)
    span = max(5, len(xs) // 50)
    for i, (name, values) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        faint = tuple(int(c + (250 - c) * 0.7) for c in color)
        n = min(len(values), len(xs))
        raw = [px(x, y) for x, y in zip(xs[:n], values[:n], strict=True) if math.isfinite(y)]
        if len(raw) > 1:
            draw.line(raw, fill=faint, width=1)
        sm = _smooth(np.nan_to_num(values[:n], nan=lo), span)
        draw.line([px(x, y) for x, y in zip(xs[:n], sm, strict=True)], fill=color, width=2)
        draw.rectangle([w - right - 150, top + 6 + 16 * i, w - right - 138, top + 16 + 16 * i], fill=color)
        draw.text((w - right - 132, top + 5 + 16 * i), name, fill=(30, 30, 30), font=font)
    return img


def save_loss_curve(path: Path, history: dict[str, Sequence[float]], steps: Sequence[int],
                    title: str) -> None:
    atomic_write_bytes(Path(path), _png(loss_curve_image(history, steps, title)))
