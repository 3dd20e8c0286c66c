"""A morph from one state to another over a set time: pure functions of the loop's clock.

The latent goes from the frame shown when the recall came (`z_from`) to wherever the new
state is by then (it may itself be moving), along a slerp with smoothstep easing, so the
picture neither jumps at the start nor at the end. Parameters glide linearly from their
targets at the start to the scene's. A parameter someone moves during the morph leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from installation.navigator import slerp


def smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


@dataclass
class Morph:
    start: float
    end: float
    z_from: np.ndarray | None = None
    params_from: dict[str, float] = field(default_factory=dict)
    params_to: dict[str, float] = field(default_factory=dict)
    label: str = ""

    def progress(self, now: float) -> float:
        if self.end <= self.start:
            return 1.0
        return min(1.0, max(0.0, (now - self.start) / (self.end - self.start)))

    def latent(self, z_to: np.ndarray, now: float) -> np.ndarray:
        if self.z_from is None or self.z_from.shape != z_to.shape:
            return z_to
        w = smoothstep(self.progress(now))
        if w >= 1.0:
            return z_to
        return slerp(self.z_from, z_to, w).astype(np.float32)

    def params(self, now: float) -> dict[str, float]:
        p = self.progress(now)
        return {
            name: a + (self.params_to[name] - a) * p
            for name, a in self.params_from.items()
            if name in self.params_to
        }

    def release(self, name: str) -> None:
        """Someone moved `name` during the morph: leave it to them."""
        self.params_from.pop(name, None)
