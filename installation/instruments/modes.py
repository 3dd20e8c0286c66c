"""Navigation modes as pure functions of (keyframes or seed, phase or time, settings).

- `loop_latent`: a seamless loop through keyframes, a closed slerp chain (or a closed
  Catmull-Rom spline projected back onto the sphere). u = 0 and u = 1 are the same point, so
  the first and last frames of a loop meet.
- `drift_offset`: a smooth noise walk around the current point, a sum of a few sine
  octaves per dimension with seeded frequencies and phases; `temperature` scales it.
- `jitter_offset`: white noise held for 1/rate seconds, seeded by the time slot.
- `truncate`: the truncation trick toward a mean latent (0 for z, `w_avg` for StyleGAN).

None of them keeps state: the same inputs give the same latent, live or offline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from installation.navigator import slerp

OCTAVES = 3


def seeded_latent(seed: int, dim: int) -> np.ndarray:
    """The keyframe a seed names: a standard normal draw scaled onto the sphere of radius
    sqrt(dim), where a normal vector almost surely lies (the same seed, the same frame)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED])
    v = rng.standard_normal(dim)
    return (v * (math.sqrt(dim) / np.linalg.norm(v))).astype(np.float32)


def _on_sphere(v: np.ndarray, radius: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v if n == 0 else v * (radius / n)


def loop_latent(keyframes: Sequence[np.ndarray], u: float, *, spline: bool = False) -> np.ndarray:
    """The point at loop position u (any real; wraps every 1.0) on a closed path through
    `keyframes`. One keyframe is a still; two slerp there and back."""
    n = len(keyframes)
    if n == 0:
        raise ValueError("a loop needs at least one keyframe")
    if n == 1 or not math.isfinite(u):
        return np.asarray(keyframes[0], dtype=np.float32)
    s = (u % 1.0) * n
    k = int(math.floor(s)) % n
    t = s - math.floor(s)
    a, b = keyframes[k], keyframes[(k + 1) % n]
    if not spline:
        return slerp(a, b, t).astype(np.float32)
    # Catmull-Rom through the neighbours: C1-continuous through each keyframe, then back onto
    # the sphere at the radius interpolated between the two ends.
    p0, p3 = keyframes[(k - 1) % n], keyframes[(k + 2) % n]
    t2, t3 = t * t, t * t * t
    v = 0.5 * (
        (2 * a)
        + (-p0 + b) * t
        + (2 * p0 - 5 * a + 4 * b - p3) * t2
        + (-p0 + 3 * a - 3 * b + p3) * t3
    )
    radius = (1 - t) * float(np.linalg.norm(a)) + t * float(np.linalg.norm(b))
    return _on_sphere(v, radius).astype(np.float32)


def _octaves(seed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xD21F7])
    # Frequencies spread around 1 cycle per unit of phase, doubling per octave.
    freqs = rng.uniform(0.6, 1.4, size=(OCTAVES, dim)) * (2.0 ** np.arange(OCTAVES))[:, None]
    phases = rng.uniform(0.0, 2 * math.pi, size=(OCTAVES, dim))
    return freqs, phases


_OCTAVE_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def drift_offset(seed: int, dim: int, phase: float, temperature: float) -> np.ndarray:
    """A smooth noise offset at `phase` (the drift's own phase, advanced by its speed):
    per dimension a sum of sine octaves at halving amplitude, unit variance, times
    `temperature` (0 is still; 1 moves as far as a fresh latent is from the mean)."""
    if temperature == 0.0 or not math.isfinite(phase):
        return np.zeros(dim, dtype=np.float32)
    key = (seed, dim)
    if key not in _OCTAVE_CACHE:
        if len(_OCTAVE_CACHE) > 16:
            _OCTAVE_CACHE.clear()
        _OCTAVE_CACHE[key] = _octaves(seed, dim)
    freqs, phases = _OCTAVE_CACHE[key]
    amps = 0.5 ** np.arange(OCTAVES)
    # Each sine has variance 1/2: normalise the sum to unit variance per dimension.
    norm = math.sqrt(2.0 / float(np.sum(amps**2)))
    v = (amps[:, None] * np.sin(2 * math.pi * freqs * phase + phases)).sum(axis=0) * norm
    return (temperature * v).astype(np.float32)


def jitter_offset(seed: int, dim: int, t: float, amount: float, rate: float) -> np.ndarray:
    """White noise of standard deviation `amount`, a fresh draw every 1/rate seconds of t."""
    if amount == 0.0 or rate <= 0 or not math.isfinite(t):
        return np.zeros(dim, dtype=np.float32)
    slot = int(math.floor(t * rate))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, slot & 0xFFFFFFFFFFFF, 0x717])
    return (amount * rng.standard_normal(dim)).astype(np.float32)


def truncate(z: np.ndarray, psi: float, mean: np.ndarray | None = None) -> np.ndarray:
    """The truncation trick: psi = 1 leaves z, 0 is the mean latent, between pulls toward it."""
    if mean is None:
        return (z * psi).astype(np.float32)
    return (mean + psi * (z - mean)).astype(np.float32)
