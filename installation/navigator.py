"""Latent navigation: where in latent space the show is at each moment.

The walk is a pure function of its *phase* (how many keyframes it has travelled), the seed
and the latent size. The render loop advances the phase by `speed * dt` each frame, so a
speed change bends the walk's pace without making the picture jump, and the same sequence
of phases always gives the same latents (deterministic for a seed, offline or live).

Two modes:
- "keyframes": slerp on the hypersphere between seeded random keyframes, eased or linear.
- "ou": an Ornstein-Uhlenbeck walk (mean-reverting noise) sampled at fixed phase ticks and
  slerped between them: wanders rather than visits.

Latents live on the sphere of radius sqrt(latent_dim), where a standard normal vector
almost surely is; truncation then scales the radius (the classic truncation trick).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

NavigatorMode = Literal["keyframes", "ou"]
Easing = Literal["smooth", "linear"]

# Below this angle between endpoints slerp degenerates into lerp (sin(omega) -> 0).
_SLERP_EPS = 1e-6


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between a and b at t in [0, 1]; safe when a == b or a == -b."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return (1 - t) * a + t * b
    cos = float(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    omega = math.acos(cos)
    sin = math.sin(omega)
    if sin < _SLERP_EPS:
        # Coincident (or antipodal) endpoints: any path is as good; lerp keeps it finite.
        return (1 - t) * a + t * b
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / sin


def _ease(t: float, easing: Easing) -> float:
    # Smoothstep: zero velocity at each keyframe, so the direction change there is never
    # visible as a kink; "linear" keeps a constant pace instead.
    return t * t * (3 - 2 * t) if easing == "smooth" else t


@dataclass
class Navigator:
    latent_dim: int
    seed: int = 0
    mode: NavigatorMode = "keyframes"
    easing: Easing = "smooth"
    # OU mode: ticks per unit of phase, and how strongly each tick reverts to the mean.
    ou_ticks: int = 4
    ou_reversion: float = 0.15

    def __post_init__(self) -> None:
        self._radius = math.sqrt(self.latent_dim)
        self._ou_cache: dict[int, np.ndarray] = {}
        self._keyframes: dict[int, np.ndarray] = {}

    def _random_point(self, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, index & 0xFFFFFFFFFFFF, 7])
        v = rng.standard_normal(self.latent_dim)
        return v * (self._radius / np.linalg.norm(v))

    def keyframe(self, index: int) -> np.ndarray:
        # Each frame needs keyframes k and k+1; drawing them costs more than the slerp.
        cached = self._keyframes.get(index)
        if cached is None:
            if len(self._keyframes) >= 8:
                self._keyframes.clear()
            cached = self._keyframes[index] = self._random_point(index)
        return cached

    def _ou_tick(self, k: int) -> np.ndarray:
        """The OU state at tick k, from the nearest cached earlier tick (bounded work)."""
        if k in self._ou_cache:
            return self._ou_cache[k]
        anchor = k - (k % 256)
        if anchor not in self._ou_cache:
            # Anchors are independent draws from the stationary distribution, so any tick
            # is reachable in < 256 steps, forwards or backwards, deterministically.
            self._ou_cache[anchor] = self._random_point(anchor * 1_000_003 + 1)
        z = self._ou_cache[anchor]
        a = 1.0 - self.ou_reversion
        for j in range(anchor + 1, k + 1):
            noise = self._random_point(j)
            z = a * z + math.sqrt(1 - a * a) * noise
            z = z * (self._radius / np.linalg.norm(z))
        if len(self._ou_cache) > 4096:
            self._ou_cache = {key: v for key, v in self._ou_cache.items() if key % 256 == 0}
        self._ou_cache[k] = z
        return z

    def position(self, phase: float, truncation: float = 1.0) -> np.ndarray:
        """The latent vector (float32, shape [latent_dim]) at this phase."""
        if not math.isfinite(phase):
            phase = 0.0
        if self.mode == "ou":
            scaled = phase * self.ou_ticks
            k = math.floor(scaled)
            z = slerp(self._ou_tick(k), self._ou_tick(k + 1), scaled - k)
        else:
            k = math.floor(phase)
            t = _ease(phase - k, self.easing)
            z = slerp(self.keyframe(k), self.keyframe(k + 1), t)
        return (z * truncation).astype(np.float32)


def advance(phase: float, speed: float, paused: float, dt: float) -> float:
    """The next phase: speed in keyframes/s, eased toward a halt by `paused` in [0, 1]."""
    return phase + speed * (1.0 - paused) * dt
