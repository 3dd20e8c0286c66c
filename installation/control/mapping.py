"""Protocol-independent mapping math: ranges, curves, invert, and a mapping's glides.

A controller sends numbers in its own range (a TouchOSC fader 0..1, a MIDI CC 0..127);
a mapping turns them into a parameter's range. Both OSC and MIDI use these pure functions,
so a fader and a knob with the same settings move a parameter the same way.

    input range --normalize--> 0..1 --invert?--> --curve--> 0..1 --scale--> output range

`unmap` is the exact inverse (for feedback: a parameter value back to a fader position).
A mapping with its own smoothing glides toward the controller's value over the following
frames (`Glides`, with params.smooth, the one smoothing); OSC and MIDI share it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

from installation.events import ControlEvent
from installation.params import Registry, smooth

Curve = Literal["linear", "exponential", "logarithmic"]
CURVES: tuple[str, ...] = ("linear", "exponential", "logarithmic")

# The base of the exponential curve: (B**x - 1) / (B - 1). 10 gives a fader a fine bottom
# third (like an audio taper) without making its top end a cliff. Logarithmic is its inverse.
CURVE_BASE = 10.0


def normalize(value: float, low: float, high: float) -> float:
    """`value` in [low, high] as 0..1, clamped (a reversed range is allowed)."""
    if high == low:
        return 0.0
    return min(1.0, max(0.0, (value - low) / (high - low)))


def scale(x: float, low: float, high: float) -> float:
    """0..1 to [low, high]."""
    return low + (high - low) * x


def curve(x: float, kind: Curve) -> float:
    """Shape 0..1 onto 0..1 (endpoints fixed)."""
    if kind == "exponential":
        return (CURVE_BASE**x - 1.0) / (CURVE_BASE - 1.0)
    if kind == "logarithmic":
        return math.log1p((CURVE_BASE - 1.0) * x) / math.log(CURVE_BASE)
    return x


def uncurve(y: float, kind: Curve) -> float:
    """The inverse of `curve`."""
    if kind == "exponential":
        return curve(y, "logarithmic")
    if kind == "logarithmic":
        return curve(y, "exponential")
    return y


def map_value(
    value: float,
    input_range: tuple[float, float] = (0.0, 1.0),
    output_range: tuple[float, float] = (0.0, 1.0),
    kind: Curve = "linear",
    invert: bool = False,
) -> float:
    """A controller value to the output range (NaN and infinities give the range's low end)."""
    if not math.isfinite(value):
        value = input_range[0]
    x = normalize(value, *input_range)
    if invert:
        x = 1.0 - x
    return scale(curve(x, kind), *output_range)


def unmap_value(
    value: float,
    input_range: tuple[float, float] = (0.0, 1.0),
    output_range: tuple[float, float] = (0.0, 1.0),
    kind: Curve = "linear",
    invert: bool = False,
) -> float:
    """The controller value that `map_value` would turn into `value` (for feedback)."""
    y = normalize(value, *output_range)
    x = uncurve(y, kind)
    if invert:
        x = 1.0 - x
    return scale(x, *input_range)


@dataclass
class _Glide:
    value: float  # normalised: what the glide last wrote
    goal: float  # normalised
    tau: float
    event: ControlEvent  # what it glides for: the target, and the source and control to name


class Glides:
    """Targets gliding toward a mapping's value over the following frames, on the loop's
    thread (the OSC scheduler and the MIDI mapper each keep one, keyed as they need).

    Normalised, so one snap tolerance fits every parameter. A glide ends when it arrives,
    when a new one replaces it, or when anything else moved its target since its last step
    (another device, OSC, a scene): the last writer wins, as with takeover.
    """

    SNAP = 1e-4  # of the range: close enough to land on the goal

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._glides: dict[Hashable, _Glide] = {}

    def __len__(self) -> int:
        return len(self._glides)

    def start(self, key: Hashable, event: ControlEvent, goal: float, current: float) -> None:
        """Glide `event.target` from `current` to `goal` (both normalised) with the event's
        smoothing time constant."""
        self._glides[key] = _Glide(current, goal, event.smoothing, event)

    def stop(self, key: Hashable) -> None:
        self._glides.pop(key, None)

    def step(self, current: dict[str, float], dt: float) -> list[tuple[Hashable, ControlEvent]]:
        """One frame of every glide: (key, event in the parameter's units); `current` (the
        targets as this frame has them so far) is updated with each step."""
        out = []
        for key, g in list(self._glides.items()):
            target = g.event.target
            param = self.registry.params[target]
            if abs(param.to_normalized(current[target]) - g.value) > 1e-6:
                del self._glides[key]  # someone else moved it: stop gliding
                continue
            g.value = smooth(g.value, g.goal, dt, g.tau, snap=self.SNAP)
            if g.value == g.goal:
                del self._glides[key]
            value = param.clamp(param.from_normalized(g.value))
            g.value = param.to_normalized(value)
            current[target] = value
            # Still naming its control, so feedback does not echo it to the control that sent it.
            e = g.event
            out.append(
                (
                    key,
                    ControlEvent(
                        target, value, source=e.source, received=e.received, control=e.control
                    ),
                )
            )
        return out
