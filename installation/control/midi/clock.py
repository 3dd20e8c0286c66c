"""MIDI clock: tempo and beat position from 24-PPQN ticks, and the walk locked to the beat.

`ClockTracker` runs on a port's input thread. Ticks arrive with jitter (USB frames, JACK
periods, the OS scheduler) and now and then in a late burst, so the tempo comes from the
median of long spans over the last two beats of tick times, not from the last interval. It reports a `ClockTick` every sixteenth note and
on every transport message: Start (position 0), Stop, Continue, Song Position Pointer.

`BeatSync` runs on the main thread: with `walk.sync` on, it moves the walk at
`bpm / 60 / walk.beats` keyframes per second and nudges the phase so that a keyframe lands on
every `walk.beats`-th beat. Only the fractional phase is corrected, so switching sync on
never jumps to another part of the walk; Stop holds the picture, Continue resumes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from installation.events import ClockTick

PPQN = 24
WINDOW = 2 * PPQN  # ticks in the tempo fit
REPORT_EVERY = PPQN // 4  # a sixteenth note
GAP_S = 1.0  # a pause longer than this restarts the tempo fit


class ClockTracker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.running: bool | None = None  # None: no transport seen (free-running clock)
        self.bpm = 0.0
        self.next_tick = 0  # the position (in ticks) the next clock message stands for
        self._count = 0  # every tick, moving or not: the report cadence
        self._times: deque[float] = deque(maxlen=WINDOW)

    def handle(self, kind: str, t: float, song_position: int = 0) -> ClockTick | None:
        if kind == "clock":
            if self._times and t - self._times[-1] > GAP_S:
                self._times.clear()
            self._times.append(t)
            self.bpm = self._estimate()
            tick = self.next_tick
            moving = self.running is not False
            if moving:
                self.next_tick += 1
            self._count += 1
            # On each sixteenth note while it plays; as often while stopped (tempo updates).
            due = (tick if moving else self._count) % REPORT_EVERY == 0
            return self._event(t, tick) if due and self.bpm else None
        if kind == "start":
            self.running, self.next_tick = True, 0
        elif kind == "continue":
            self.running = True
        elif kind == "stop":
            self.running = False
        elif kind == "songpos":
            self.next_tick = song_position * (PPQN // 4)  # SPP counts sixteenth notes
        else:
            return None
        return self._event(t, self.next_tick)

    def _estimate(self) -> float:
        # The median over the window of the time spanned by half a window of ticks: jitter
        # averages out over the long spans, and a stall (a late burst of ticks) skews only a
        # few spans, which the median ignores; a least-squares fit would lean toward it.
        n = len(self._times)
        if n < 8:
            return self.bpm
        k = n // 2
        times = self._times
        spans = sorted(times[i + k] - times[i] for i in range(n - k))
        seconds_per_tick = spans[len(spans) // 2] / k
        if seconds_per_tick <= 0:
            return self.bpm
        return min(999.0, max(1.0, 60.0 / (PPQN * seconds_per_tick)))

    def _event(self, t: float, tick: int) -> ClockTick:
        running = self.running is not False
        return ClockTick(source=self.source, running=running, bpm=self.bpm, beat=tick / PPQN, at=t)


class BeatSync:
    """Main-thread side: the latest clock state, and the walk's phase locked to it."""

    STALE_S = 2.0  # no clock for this long: the free walk takes over again
    CORRECT_S = 0.5  # time constant of the phase correction

    def __init__(self) -> None:
        self.latest: ClockTick | None = None

    def update(self, event: ClockTick) -> None:
        self.latest = event

    def beat_at(self, now: float) -> float | None:
        ev = self.latest
        if ev is None:
            return None
        if not ev.running or not ev.bpm:
            return ev.beat
        # Extrapolate between reports, but never more than one beat past the last one.
        return ev.beat + min(max(0.0, now - ev.at) * ev.bpm / 60.0, 1.0)

    def phase(
        self, phase: float, values: Mapping[str, float], dt: float, now: float
    ) -> float | None:
        """The synced phase, or None to leave the walk to `walk.speed`."""
        ev = self.latest
        if (
            ev is None
            or values.get("walk.sync", 0.0) < 0.5
            or now - ev.at > self.STALE_S
            or not ev.bpm
        ):
            return None
        if not ev.running:
            return phase
        beats = max(1.0, values.get("walk.beats", 4.0))
        beat = self.beat_at(now)
        assert beat is not None
        gain = 1.0 - values.get("walk.paused", 0.0)
        error = (beat / beats - phase + 0.5) % 1.0 - 0.5  # only the fraction: never a jump
        step = ev.bpm / 60.0 / beats * dt + error * (1.0 - math.exp(-dt / self.CORRECT_S))
        return phase + gain * step

    def describe(self, now: float) -> str | None:
        ev = self.latest
        if ev is None or now - ev.at > self.STALE_S:
            return None
        state = "playing" if ev.running else "stopped"
        return f"MIDI clock {ev.bpm:5.1f} bpm {state}, beat {self.beat_at(now) or 0.0:.2f}"
