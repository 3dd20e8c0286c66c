"""Procedural image datasets: colour-field compositions that need no download.

`shapes` paints one abstract composition per image: a harmonious palette (analogous,
complementary, triadic or split-complementary hues around a random base), a dark gradient
ground, then three to seven layers of glowing discs, rings, arcs, brush strokes and
polygons, alpha-composited with soft edges and a vignette. Large forms and smooth
gradients on purpose: that is what a small generator can learn in minutes on a CPU and
what still reads from across a room when a projector blows 64 pixels up to a wall.

Every image is a pure function of (seed, index), so a dataset is reproducible, any image
can be redrawn alone, and two processes (ranks of a distributed run) draw the same set.
"""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS = ("shapes", "fluid", "marble", "ink", "nebula")
SUPERSAMPLE = 2  # draw at 2x and downsample: anti-aliased edges for free

RGB = tuple[int, int, int]


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def make_palette(rng: np.random.Generator) -> tuple[RGB, RGB, list[RGB]]:
    """(ground, ground2, accents): a dark ground pair and four vivid accents from one scheme."""
    base = float(rng.random())
    scheme = rng.choice(["analogous", "complementary", "triadic", "split"])
    offsets = {
        "analogous": [0.0, 0.06, -0.06, 0.12],
        "complementary": [0.0, 0.5, 0.04, 0.54],
        "triadic": [0.0, 1 / 3, 2 / 3, 0.05],
        "split": [0.0, 0.42, 0.58, 0.03],
    }[str(scheme)]
    accents = [
        _hsv(base + o + rng.normal(0, 0.015), rng.uniform(0.55, 0.95), rng.uniform(0.75, 1.0))
        for o in offsets
    ]
    ground_hue = base + float(rng.choice(offsets))
    ground = _hsv(ground_hue, rng.uniform(0.4, 0.9), rng.uniform(0.05, 0.18))
    ground2 = _hsv(ground_hue + rng.normal(0, 0.08), rng.uniform(0.4, 0.9), rng.uniform(0.2, 0.45))
    return ground, ground2, accents


def _ground(rng: np.random.Generator, size: int, c0: RGB, c1: RGB) -> np.ndarray:
    """A linear or radial gradient, eased, as float RGB [size, size, 3] in 0..255."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * math.pi)
        t = (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle) + 0.5
    else:
        cx, cy = rng.uniform(0.2, 0.8, 2)
        t = 1.0 - np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / 0.9
    t = np.clip(t, 0.0, 1.0)
    t = t * t * (3 - 2 * t)  # smoothstep: no visible band where the gradient starts
    a, b = np.array(c0, np.float32), np.array(c1, np.float32)
    return a + (b - a) * t[..., None]


def _layer(size: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    return img, ImageDraw.Draw(img)


def _disc(rng: np.random.Generator, size: int, color: RGB) -> Image.Image:
    """A glowing disc: concentric circles from the colour to a lighter core."""
    img, draw = _layer(size)
    r = rng.uniform(0.12, 0.38) * size
    cx, cy = rng.uniform(0.1, 0.9, 2) * size
    core = tuple(int(c + (255 - c) * 0.55) for c in color)
    steps = 12
    for i in range(steps):
        f = 1.0 - i / steps
        t = i / (steps - 1)
        col = tuple(int(a + (b - a) * t * t) for a, b in zip(color, core, strict=True))
        rr = r * f
        draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=(*col, 255))
    return img.filter(ImageFilter.GaussianBlur(size * rng.uniform(0.004, 0.02)))


def _ring(rng: np.random.Generator, size: int, color: RGB) -> Image.Image:
    img, draw = _layer(size)
    r = rng.uniform(0.15, 0.42) * size
    cx, cy = rng.uniform(0.15, 0.85, 2) * size
    width = max(2, int(rng.uniform(0.03, 0.09) * size))
    if rng.random() < 0.5:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(*color, 255), width=width)
    else:  # an arc: a ring that opens, reads as motion
        start = rng.uniform(0, 360)
        draw.arc(
            (cx - r, cy - r, cx + r, cy + r),
            start,
            start + rng.uniform(120, 290),
            fill=(*color, 255),
            width=width,
        )
    return img.filter(ImageFilter.GaussianBlur(size * 0.004))


def _stroke(rng: np.random.Generator, size: int, color: RGB) -> Image.Image:
    """A thick cubic Bezier brush stroke with round ends, tapering from its middle."""
    img, draw = _layer(size)
    p = rng.uniform(-0.1, 1.1, (4, 2)) * size
    t = np.linspace(0, 1, 200)[:, None]  # dense enough that the dabs never bead
    pts = (
        (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t**2 * p[2] + t**3 * p[3]
    )
    width = rng.uniform(0.03, 0.08) * size
    for (x, y), tt in zip(pts, t[:, 0], strict=True):
        w = width * (0.35 + 0.65 * math.sin(math.pi * tt))
        draw.ellipse((x - w, y - w, x + w, y + w), fill=(*color, 255))
    return img.filter(ImageFilter.GaussianBlur(size * 0.005))


def _polygon(rng: np.random.Generator, size: int, color: RGB) -> Image.Image:
    img, draw = _layer(size)
    n = int(rng.choice([3, 4, 5, 6]))
    r = rng.uniform(0.12, 0.35) * size
    cx, cy = rng.uniform(0.15, 0.85, 2) * size
    rot = rng.uniform(0, 2 * math.pi)
    pts = [
        (cx + r * math.cos(rot + 2 * math.pi * k / n), cy + r * math.sin(rot + 2 * math.pi * k / n))
        for k in range(n)
    ]
    draw.polygon(pts, fill=(*color, 255))
    return img.filter(ImageFilter.GaussianBlur(size * 0.004))


def _glow(rng: np.random.Generator, size: int, color: RGB) -> Image.Image:
    """A large, heavily blurred light: atmosphere behind the forms."""
    img, draw = _layer(size)
    r = rng.uniform(0.2, 0.5) * size
    cx, cy = rng.uniform(0.0, 1.0, 2) * size
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*color, 255))
    return img.filter(ImageFilter.GaussianBlur(r * 0.6))


PAINTERS: list[tuple[Callable[[np.random.Generator, int, RGB], Image.Image], float]] = [
    (_disc, 0.28),
    (_ring, 0.22),
    (_stroke, 0.26),
    (_polygon, 0.10),
    (_glow, 0.14),
]


def render_shapes(seed: int, index: int, resolution: int) -> np.ndarray:
    """One composition, [resolution, resolution, 3] uint8; a pure function of its arguments."""
    rng = np.random.default_rng([seed, index])
    size = resolution * SUPERSAMPLE
    ground, ground2, accents = make_palette(rng)
    canvas = Image.fromarray(_ground(rng, size, ground, ground2).astype(np.uint8), "RGB").convert(
        "RGBA"
    )
    canvas.alpha_composite(_glow(rng, size, accents[0]))
    painters, weights = zip(*PAINTERS, strict=True)
    probs = np.array(weights) / sum(weights)
    for _ in range(int(rng.integers(3, 7))):
        painter = painters[int(rng.choice(len(painters), p=probs))]
        color = accents[int(rng.integers(len(accents)))]
        layer = painter(rng, size, color)
        alpha = rng.uniform(0.55, 1.0)
        if alpha < 1.0:
            a = np.asarray(layer, dtype=np.float32)
            a[..., 3] *= alpha
            layer = Image.fromarray(a.astype(np.uint8), "RGBA")
        canvas.alpha_composite(layer)
    rgb = np.asarray(canvas.convert("RGB"), dtype=np.float32)
    # Bloom: a blurred copy screened over the image, so bright forms glow like light.
    blur = np.asarray(
        canvas.convert("RGB").filter(ImageFilter.GaussianBlur(size * 0.05)), np.float32
    )
    blur *= rng.uniform(0.35, 0.7)
    rgb = 255.0 - (255.0 - rgb) * (255.0 - blur) / 255.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    vignette = 1.0 - 0.45 * np.clip((xx**2 + yy**2) * 2.0, 0.0, 1.0) ** 1.5
    rgb *= vignette[..., None]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    return np.array(img.resize((resolution, resolution), Image.Resampling.LANCZOS))  # writable copy


def _fluid(family: str | None) -> Callable[[int, int, int], np.ndarray]:
    from installation.training.synth_flow import render_fluid

    return lambda seed, index, resolution: render_fluid(seed, index, resolution, family)


# fluid: marbling, ink and nebulae mixed (installation/training/synth_flow.py); or one family.
RENDERERS: dict[str, Callable[[int, int, int], np.ndarray]] = {
    "shapes": render_shapes,
    "fluid": _fluid(None),
    "marble": _fluid("marble"),
    "ink": _fluid("ink"),
    "nebula": _fluid("nebula"),
}


def render(kind: str, seed: int, index: int, resolution: int) -> np.ndarray:
    if kind not in RENDERERS:
        raise ValueError(f"unknown synthetic dataset kind {kind!r} (known: {', '.join(KINDS)})")
    return RENDERERS[kind](seed, index, resolution)


def write_synthetic(kind: str, n: int, out: Path, *, seed: int = 0, resolution: int = 256) -> int:
    """Draw `n` images of `kind` into `out` as kind-NNNNNN.png; returns how many."""
    from installation.checkpoints import atomic_write_bytes
    from installation.training.progress import Progress

    if kind not in KINDS:
        raise ValueError(f"unknown synthetic dataset kind {kind!r} (known: {', '.join(KINDS)})")
    if resolution < 8:
        raise ValueError("--resolution must be at least 8 pixels")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bar = Progress(n, desc=f"drawing {kind}", unit="image")
    for i in range(n):
        buf = io.BytesIO()
        Image.fromarray(render(kind, seed, i, resolution)).save(buf, format="PNG")
        atomic_write_bytes(out / f"{kind}-{i:06d}.png", buf.getvalue())
        bar.update(i + 1)
    bar.close()
    return n
