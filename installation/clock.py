"""Injected time, so the render loop runs deterministically in tests and offline renders."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    # False for virtual time: then nothing may depend on how long real work took.
    realtime: bool

    def now(self) -> float: ...

    def sleep_until(self, t: float) -> None: ...


class MonotonicClock:
    """Wall time from time.monotonic (the stats' `t` is in this clock)."""

    realtime = True

    def now(self) -> float:
        return time.monotonic()

    def sleep_until(self, t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class FixedStepClock:
    """Virtual time that only moves when the loop waits for its next frame, so every frame
    is exactly 1/fps apart whatever the machine's speed: offline renders are repeatable."""

    realtime = False

    def __init__(self, start: float = 0.0) -> None:
        self._t = start

    def now(self) -> float:
        return self._t

    def sleep_until(self, t: float) -> None:
        self._t = max(self._t, t)
