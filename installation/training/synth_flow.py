"""Procedural fluid images: marbling, flowing ink and nebulae, drawn with no download.

Every picture is domain-warped fractal noise (Quilez, "domain warping": the noise's own
coordinates are pushed by more noise, which is what makes smoke curl and paint marble),
coloured by a cosine palette (a + b cos(2 pi (c t + d)), harmonious by construction) and
finished differently per family:

- marble: sine bands through the warped field, the look of paper pulled off a marbling bath;
- ink: soft-edged ink clouds with darker rims, bleeding into a paper or dark ground;
- nebula: glowing gas (the field raised to a power, added onto black) and a few stars.

One family blends into the next through shared parameters (warp, palette, contrast), so a
latent walk between images drifts from one look into another instead of cutting. Every
image is a pure function of (seed, index), drawn with torch on the CPU in a few ms.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

FAMILIES = ("marble", "ink", "nebula")


def _fbm(
    gen: torch.Generator, size: int, octaves: int, base: int, channels: int = 1
) -> torch.Tensor:
    """Fractal noise [channels, size, size], roughly zero-mean, unit-ish amplitude: random
    grids of base, 2 base, 4 base ... cells, each bicubically upsampled, halved in weight."""
    out = torch.zeros(1, channels, size, size)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2**o
        if cells > size:
            break
        grid = torch.randn(1, channels, cells + 3, cells + 3, generator=gen)
        up = F.interpolate(
            grid, size=(size + size * 3 // cells,) * 2, mode="bicubic", align_corners=False
        )
        off = size * 3 // cells // 2
        out += amp * up[..., off : off + size, off : off + size]
        total += amp
        amp *= 0.5
    return out[0] / total


def _warp(field: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """`field` [C, S, S] sampled at pixel + offset (offset [2, S, S] in units of the image)."""
    s = field.shape[-1]
    lin = torch.linspace(-1, 1, s)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    grid = torch.stack([xx + 2 * offset[0], yy + 2 * offset[1]], dim=-1)[None]
    return F.grid_sample(
        field[None], grid, mode="bilinear", padding_mode="reflection", align_corners=True
    )[0]


def _palette(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Cosine palette coefficients (a, b, c, d), each [3]: bright, saturated, not garish."""
    a = rng.uniform(0.35, 0.6, 3)
    b = rng.uniform(0.3, 0.5, 3)
    c = rng.choice([0.5, 0.75, 1.0, 1.0]) * rng.uniform(0.8, 1.2, 3)
    d = rng.uniform(0, 1) + np.array([0.0, rng.uniform(0.1, 0.33), rng.uniform(0.2, 0.67)])
    return a, b, c, d


def _colour(t: torch.Tensor, pal: tuple[np.ndarray, ...]) -> torch.Tensor:
    """[S, S] values -> [3, S, S] colours in 0..1 through the palette."""
    a, b, c, d = (torch.tensor(v, dtype=torch.float32)[:, None, None] for v in pal)
    return (a + b * torch.cos(2 * math.pi * (c * t[None] + d))).clamp(0, 1)


def _warped_field(
    gen: torch.Generator, rng: np.random.Generator, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(value [S, S], warp magnitude [S, S]): noise pushed twice through noise."""
    base = int(rng.choice([2, 3, 3, 4]))
    strength = rng.uniform(0.15, 0.45)
    # Few octaves in the warps keep the flow broad: small generators learn broad flows well.
    q = _fbm(gen, size, 3, base, channels=2)
    r = _warp(_fbm(gen, size, 4, base, channels=2), strength * q)
    value = _warp(_fbm(gen, size, 5, base), strength * r)[0]
    return value, r.norm(dim=0)


def _smoothstep(e0: float, e1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - e0) / (e1 - e0)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def _marble(gen: torch.Generator, rng: np.random.Generator, size: int) -> torch.Tensor:
    value, mag = _warped_field(gen, rng, size)
    angle = rng.uniform(0, math.pi)
    lin = torch.linspace(0, 1, size)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    freq = rng.uniform(1.0, 3.0)
    bands = torch.sin(
        2 * math.pi * (freq * (xx * math.cos(angle) + yy * math.sin(angle)) + 1.6 * value)
    )
    t = 0.5 + 0.5 * bands
    rgb = _colour(0.45 * t + 0.3 * mag + 0.15 * value, _palette(rng))
    veins = 1.0 - 0.55 * torch.exp(-((bands / 0.2) ** 2))  # thin dark veins where bands turn
    return rgb * veins[None]


def _ink(gen: torch.Generator, rng: np.random.Generator, size: int) -> torch.Tensor:
    value, mag = _warped_field(gen, rng, size)
    level = rng.uniform(-0.15, 0.25)
    density = _smoothstep(level - 0.05, level + 0.35, value)
    rim = torch.exp(-(((value - level) / 0.05) ** 2))  # pigment gathers at the edge of a bloom
    pal = _palette(rng)
    ink = _colour(0.5 * mag + 0.3 * value, pal)
    dark_ground = rng.random() < 0.5
    paper = torch.tensor([0.05, 0.05, 0.07] if dark_ground else [0.93, 0.9, 0.84])[:, None, None]
    paper = paper * (1 + 0.04 * _fbm(gen, size, 6, 8))  # a little tooth in the paper
    ink = ink * (1.0 - 0.45 * rim[None]) if not dark_ground else ink + 0.35 * rim[None]
    return paper + (ink - paper) * (0.92 * density)[None]


def _nebula(gen: torch.Generator, rng: np.random.Generator, size: int) -> torch.Tensor:
    value, mag = _warped_field(gen, rng, size)
    gas = (0.5 + 0.5 * value).clamp(0, 1) ** rng.uniform(2.0, 3.5)
    glow = _colour(0.6 * mag + 0.4 * value, _palette(rng)) * (1.6 * gas)[None]
    dust = _smoothstep(0.1, 0.6, _fbm(gen, size, 5, 4)[0])  # dark lanes in front of the gas
    rgb = glow * (1.0 - 0.6 * dust)[None] + 0.02
    stars = (torch.rand(1, size, size, generator=gen) > 1.0 - 6e-4).float()
    stars = F.max_pool2d(stars[None], 3, 1, 1)[0] * 0.35 + stars * 0.65
    return rgb + stars * rng.uniform(0.5, 1.0)


PAINTERS = {"marble": _marble, "ink": _ink, "nebula": _nebula}


def render_fluid(seed: int, index: int, resolution: int, family: str | None = None) -> np.ndarray:
    """One image, [resolution, resolution, 3] uint8; a pure function of the arguments.
    `family` None picks one per image (marble, ink and nebula about equally often)."""
    rng = np.random.default_rng([seed, index, 0x51F7])
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    name = family or FAMILIES[int(rng.integers(len(FAMILIES)))]
    size = max(resolution, 64)  # draw small images at 64 and shrink: the field needs room
    rgb = PAINTERS[name](gen, rng, size)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    rgb = rgb * (1.0 - 0.25 * (xx**2 + yy**2).clamp(0, 2) ** 1.5 / 2.8)[None]  # a soft vignette
    if size != resolution:
        rgb = F.interpolate(rgb[None], size=(resolution, resolution), mode="area")[0]
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
