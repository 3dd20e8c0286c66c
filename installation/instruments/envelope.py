"""Envelope followers: a jumpy incoming value (an audio level from TouchDesigner or Max)
becomes a smooth push on a parameter. Pure: `follow` is one step of (level, input, dt)."""

from __future__ import annotations

import math


def follow(
    level: float,
    x: float,
    dt: float,
    attack: float,
    release: float,
    gain: float = 1.0,
    threshold: float = 0.0,
) -> float:
    """The envelope after dt seconds of input x (0..1): what exceeds the threshold, times
    the gain, clamped to 0..1, approached with the attack time constant when rising and the
    release one when falling (0 = at once)."""
    if not math.isfinite(x):
        x = 0.0
    goal = min(1.0, max(0.0, (x - threshold) * gain))
    tau = attack if goal > level else release
    if tau <= 0 or dt <= 0:
        return goal if tau <= 0 else level
    return level + (goal - level) * (1.0 - math.exp(-dt / tau))
