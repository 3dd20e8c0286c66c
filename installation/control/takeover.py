"""Soft takeover: a fader that is out of place must not make the picture jump.

All values are normalised to the parameter's range (0..1). Per control and target:

- none:   the control's value is written as it comes.
- pickup: ignored until the control reaches the parameter's current value (it crosses it
          between two messages, or lands within TOLERANCE of it), then it follows.
- scale:  while apart, each move covers a share of the remaining distance to the end of the
          range it moves toward, so control and parameter meet at that end (or sooner)
          without a jump; from then on it follows.

A control that follows lets go again when anything else changes the parameter (another
device, OSC, a scene): the next move has to pick it up again. So with two devices on one
parameter the last writer wins, and neither makes it jump.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE = 0.02  # of the range: ~3 steps of a 7-bit control
EPS = 1e-6


@dataclass
class _State:
    last: float | None = None  # the control's previous value
    written: float | None = None  # what this control last wrote
    engaged: bool = False


class Takeover:
    def __init__(self) -> None:
        self._states: dict[tuple[str, str, str], _State] = {}

    def apply(
        self,
        key: tuple[str, str, str],
        mode: str,
        v: float,
        current: float,
        lo: float = 0.0,
        hi: float = 1.0,
    ) -> float | None:
        """The value to write for control value `v` given the parameter's `current` value,
        or None to write nothing yet. `key` is (source, control, target)."""
        s = self._states.setdefault(key, _State())
        if s.engaged and (s.written is None or abs(current - s.written) > EPS):
            s.engaged = False  # someone else moved it since
        last, s.last = s.last, v
        if mode == "none" or s.engaged:
            return self._write(s, v)
        if abs(v - current) <= TOLERANCE * max(abs(hi - lo), EPS):
            s.engaged = True
            return self._write(s, v)
        if mode == "pickup":
            if last is not None and (last - current) * (v - current) <= 0:
                s.engaged = True
                return self._write(s, v)
            return None
        # scale
        if last is None or v == last:
            return None
        top, bottom = max(lo, hi), min(lo, hi)
        if v > last:
            room = top - last
            out = current + (v - last) * (top - current) / room if room > EPS else v
        else:
            room = last - bottom
            out = current - (last - v) * (current - bottom) / room if room > EPS else v
        if abs(out - v) <= TOLERANCE * max(abs(hi - lo), EPS) or (out - v) * (current - v) < 0:
            out, s.engaged = v, True  # met (or would cross): follow from here
        return self._write(s, out)

    def wrote(self, key: tuple[str, str, str], value: float) -> None:
        """Record the value actually applied (after clamping, or a glide step)."""
        s = self._states.get(key)
        if s is not None:
            s.written = value

    @staticmethod
    def _write(s: _State, value: float) -> float:
        s.written = value
        return value
