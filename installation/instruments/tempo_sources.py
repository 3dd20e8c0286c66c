"""Where the show's one tempo comes from, and where a tempo set here goes.

In: OSC (`/tempo`, `/beat`), taps, MIDI clock, a replayed log's tempo lines and Ableton
Link (whose tempo and beats arrive as OSC-like `tempo` and `beat` events from link.py).
Out: a tempo or beat set here (tap, OSC, a MIDI key, MIDI clock) is told to the Link
session, so the other apps in it follow the show; what came from Link is not sent back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from installation.events import ControlEvent
from installation.instruments.tempo import Tempo

if TYPE_CHECKING:
    from installation.instruments.link import LinkService
    from installation.instruments.record import Recorder

TEMPO_ACTIONS = ("tempo", "beat", "tempo.tap")
LINK_SOURCE = "link"
# MIDI clock's tempo is measured from its ticks and wobbles by a few hundredths of a bpm:
# Link hears a change only past this, so the session is not rewritten on every tick.
LINK_BPM_STEP = 0.05
# Reads the MIDI clock's latest state (an object with bpm, beat, running, at), or None.
ClockSource = Callable[[], object | None]


class TempoSources:
    def __init__(
        self,
        tempo: Tempo,
        note: Callable[[str], None],
        recorder: Recorder | None = None,
        midi_clock: ClockSource | None = None,
    ) -> None:
        self.tempo, self.note, self.recorder, self.midi_clock = tempo, note, recorder, midi_clock
        self.link: LinkService | None = None  # Ableton Link, when performance.link is on
        self._last_clock: object | None = None
        self._told_bpm = 0.0  # the tempo Link was last told

    def action(self, e: ControlEvent, now: float) -> None:
        """`tempo BPM`, `beat [N]` or `tempo.tap`, from OSC, MIDI, keys, Link or a replay."""
        source = e.source.removeprefix("replay:").split(":")[0]  # "osc", "midi", "keyboard"
        if e.target == "tempo":
            changed = self.tempo.set_bpm(e.value, now, source=source)
            beat = False
        elif e.target == "beat":
            self.tempo.beat(now, e.value if math.isfinite(e.value) else None, source=source)
            changed = beat = True
        else:
            changed = beat = self.tempo.tap(now)
            if changed:
                self.note(f"tap tempo {self.tempo.state.bpm:.1f} bpm")
        if changed and source != LINK_SOURCE:
            self._tell_link(now, beat)

    def replayed(self, data: Mapping[str, object], t: float, now: float) -> None:
        """A replayed log's tempo line (MIDI clock as it was recorded)."""
        bpm, beat = float(data["bpm"]), float(data["beat"])  # type: ignore[arg-type]
        running, source = bool(data.get("running", True)), str(data.get("source", "replay"))
        self.tempo.clock(bpm, beat, now, running, source)
        if self.recorder is not None:
            self.recorder.tempo(t, bpm, beat, running, source)

    def follow_midi_clock(self, t: float, now: float) -> None:
        latest = self.midi_clock() if self.midi_clock is not None else None
        if latest is None or latest is self._last_clock:
            return
        self._last_clock = latest
        bpm, running = float(getattr(latest, "bpm", 0.0)), bool(getattr(latest, "running", False))
        # Clock events are stamped in real time: carry the beat over to the loop's clock.
        beat = float(getattr(latest, "beat", 0.0))
        if running and bpm > 0:
            beat += max(0.0, time.monotonic() - float(getattr(latest, "at", 0.0))) * bpm / 60.0
        self.tempo.clock(bpm, beat, now, running)
        if not self.tempo.state.known:
            return
        if self.recorder is not None:
            self.recorder.tempo(t, self.tempo.state.bpm, beat, running, "midi clock")
        if running and abs(self.tempo.state.bpm - self._told_bpm) >= LINK_BPM_STEP:
            self._tell_link(now, beat=False)

    def _tell_link(self, now: float, beat: bool) -> None:
        """The show's tempo (and, for a beat or a tap, its beat now) to the Link session."""
        state = self.tempo.state
        if self.link is None or not state.known:
            return
        self._told_bpm = state.bpm
        self.link.publish(state.bpm, state.beat_at(now) if beat else None)
