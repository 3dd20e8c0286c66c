"""Protocol-independent mapping math: ranges, curves, invert (smoothing: params.smooth).

A controller sends numbers in its own range (a TouchOSC fader 0..1, a MIDI CC 0..127);
a mapping turns them into a parameter's range. Both OSC and MIDI use these pure functions,
so a fader and a knob with the same settings move a parameter the same way.

    input range --normalize--> 0..1 --invert?--> --curve--> 0..1 --scale--> output range

`unmap` is the exact inverse (for feedback: a parameter value back to a fader position).
"""

from __future__ import annotations

import math
from typing import Literal

from installation.params import smooth  # noqa: F401  (the one smoothing, re-exported here)

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
