"""One tempo for the show, from whichever source spoke last: MIDI clock, OSC (`/tempo BPM`,
`/beat [N]`), tap tempo, or a replayed log.

The state is (bpm, a beat number at a time); `beat_at(now)` extrapolates from it, so the
beat phase is a pure function of the loop's clock and runs the same offline. Changing the
tempo keeps the beat continuous (no jump in a loop locked to it). Without any source the
tempo is unknown and beat-synced moves fall back to seconds.

Taps: two or more taps less than `TAP_GAP_S` apart set the tempo from the median interval
and put a beat on the last tap; a lone tap changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

CORRECT_S = 0.5  # time constant of beat-phase corrections (as the MIDI clock sync)
TAP_GAP_S = 2.0  # a longer pause starts a new tap series
MAX_TAPS = 8
MIN_BPM, MAX_BPM = 20.0, 400.0


@dataclass(frozen=True)
class TempoState:
    bpm: float = 0.0  # 0: unknown
    beat: float = 0.0  # the beat number at time `at`
    at: float = 0.0
    source: str = ""
    running: bool = True

    @property
    def known(self) -> bool:
        return self.bpm > 0

    def beat_at(self, now: float) -> float:
        if not self.known or not self.running:
            return self.beat
        return self.beat + (now - self.at) * self.bpm / 60.0

    def time_of(self, beat: float) -> float:
        """When `beat` falls (assuming the tempo holds)."""
        return self.at + (beat - self.beat) * 60.0 / self.bpm


def _clamp_bpm(bpm: float) -> float | None:
    if not math.isfinite(bpm) or bpm <= 0:
        return None
    return min(MAX_BPM, max(MIN_BPM, bpm))


class Tempo:
    def __init__(self) -> None:
        self.state = TempoState()
        self._taps: list[float] = []

    def set_bpm(self, bpm: float, now: float, source: str = "osc") -> bool:
        bpm_ok = _clamp_bpm(bpm)
        if bpm_ok is None:
            return False
        s = self.state
        self.state = TempoState(bpm_ok, s.beat_at(now), now, source, True)
        return True

    def beat(self, now: float, number: float | None = None, source: str = "osc") -> None:
        """A beat falls now: number N if given, else the nearest whole beat."""
        s = self.state
        here = s.beat_at(now)
        value = (
            float(number) if number is not None and math.isfinite(number) else float(round(here))
        )
        self.state = replace(s, beat=value, at=now, source=source, running=True)

    def clock(
        self, bpm: float, beat: float, now: float, running: bool, source: str = "midi clock"
    ) -> None:
        bpm_ok = _clamp_bpm(bpm)
        if bpm_ok is None:
            return
        self.state = TempoState(bpm_ok, beat, now, source, running)

    def tap(self, now: float) -> bool:
        """One tap; True when it set the tempo (the second and later taps of a series)."""
        if self._taps and (now - self._taps[-1] > TAP_GAP_S or now <= self._taps[-1]):
            self._taps.clear()
        self._taps.append(now)
        del self._taps[:-MAX_TAPS]
        if len(self._taps) < 2:
            return False
        gaps = sorted(b - a for a, b in zip(self._taps, self._taps[1:], strict=False))
        median = (
            gaps[len(gaps) // 2]
            if len(gaps) % 2
            else 0.5 * (gaps[len(gaps) // 2 - 1] + gaps[len(gaps) // 2])
        )
        bpm = _clamp_bpm(60.0 / median)
        if bpm is None:
            return False
        here = self.state.beat_at(now) if self.state.known else 0.0
        self.state = TempoState(bpm, float(round(here)), now, "tap", True)
        return True

    def describe(self, now: float, beats_per_bar: int) -> str | None:
        s = self.state
        if not s.known:
            return None
        beat = s.beat_at(now)
        bar, in_bar = divmod(math.floor(beat), beats_per_bar)
        state = "" if s.running else "  stopped"
        return f"tempo {s.bpm:5.1f} bpm ({s.source})   bar {bar + 1} beat {in_bar + 1}{state}"


def quantized_end(state: TempoState, now: float, seconds: float, grid_beats: float) -> float:
    """When a move of about `seconds` that starts now should end: on the first beat of the
    grid (1 = a beat, 4 = a bar of 4/4) at or after now + seconds, when a tempo is known;
    otherwise simply now + seconds."""
    if not state.known or not state.running or grid_beats <= 0:
        return now + seconds
    target = state.beat_at(now + seconds)
    end_beat = math.ceil(target / grid_beats - 1e-9) * grid_beats
    return state.time_of(end_beat)


def locked_phase(
    phase: float, cycle: float, beat: float, beats: float, bpm: float, dt: float, gain: float
) -> float:
    """The phase of something that turns `cycle` phase units every `beats` beats, stepped at
    the tempo and nudged so it meets the beat: only the fraction is corrected, never a jump."""
    target = beat / beats
    error = ((target - phase / cycle) + 0.5) % 1.0 - 0.5
    step = bpm / 60.0 / beats * dt + error * (1.0 - math.exp(-dt / CORRECT_S))
    return phase + gain * cycle * step
