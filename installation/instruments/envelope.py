"""Envelope followers: a jumpy incoming value (an audio level from TouchDesigner or Max)
becomes a smooth push on a parameter. Pure: `follow` is one step of (level, input, dt)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from installation.events import ControlEvent, Event
from installation.instruments.config import EnvelopeConfig
from installation.params import Registry


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


class EnvelopeBank:
    """The show's envelope followers: each frame, the newest value of each input (an event
    this frame, else its current target) moves its envelope, which sets its target."""

    def __init__(self, registry: Registry, configs: Sequence[EnvelopeConfig]) -> None:
        self.registry, self.configs = registry, tuple(configs)
        self.levels = [0.0] * len(self.configs)

    def _input(
        self, env: EnvelopeConfig, events: list[Event], targets: Mapping[str, float]
    ) -> float:
        param = self.registry.params[env.input]
        x = targets.get(env.input, 0.0)
        for e in events:
            if isinstance(e, ControlEvent) and e.target == env.input and not e.relative:
                if math.isfinite(e.value):
                    x = param.clamp(param.from_normalized(e.value) if e.normalized else e.value)
        return param.to_normalized(x)

    def events(
        self, events: list[Event], targets: Mapping[str, float], dt: float
    ) -> list[ControlEvent]:
        out = []
        for i, env in enumerate(self.configs):
            x = self._input(env, events, targets)
            level = follow(self.levels[i], x, dt, env.attack, env.release, env.gain, env.threshold)
            self.levels[i] = level
            target = self.registry.params[env.target]
            lo, hi = env.output or (target.minimum, target.maximum)
            value = lo + (hi - lo) * level
            out.append(ControlEvent(env.target, value, source=f"envelope:{env.input}"))
        return out
