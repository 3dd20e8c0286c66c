"""The MIDI side of the render loop, on the main thread: mapping, takeover, glides, learn,
clock, HUD.

The input threads only decode bytes into `MidiMessage`s; this mapper (one of the loop's
mappers, called every frame with the current targets) decides what they do to the show:

- Each message goes through its device's bindings (decode.MidiDecoder: 14-bit and NRPN
  pairing, relative encoders, the curve) into ControlEvents.
- Events from a control (`control` set) pass through soft takeover (takeover.py) against
  the current targets; relative encoder steps become absolute values clamped to the
  control's span; a control with its own smoothing glides toward its value over the
  following frames.
- Clock ticks and device notices are consumed here and never reach the registry.
- `learn` / `learn.cancel` actions arm MIDI learn for the next target in the registry.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from installation.control.mapping import Glides
from installation.control.midi.clock import BeatSync
from installation.control.midi.decode import MidiDecoder
from installation.control.takeover import Takeover
from installation.events import ClockTick, ControlEvent, DeviceNotice, Event, MidiMessage
from installation.params import Registry

log = logging.getLogger(__name__)

NOTE_S = 8.0  # how long a device/learn note stays in the HUD
LEARN_ACTIONS = ("learn", "learn.cancel")


class MidiMapper:
    def __init__(
        self,
        registry: Registry,
        *,
        arm: Callable[[str | None], None],
        status_lines: Callable[[], Iterable[str]] = lambda: (),
        on_device: Callable[[str, Mapping[str, float]], None] | None = None,
        decoders: Callable[[], Mapping[str, MidiDecoder]] = dict,
    ) -> None:
        self.registry = registry
        self.decoders = decoders  # source -> its device's decoder (the MIDI service's)
        self.arm = arm
        self.status_lines = status_lines
        self.on_device = on_device
        self.takeover = Takeover()
        self.clock = BeatSync()
        self.learning: str | None = None
        self._cursor: str | None = None
        self._glides = Glides(registry)  # keyed (source, control, target), like takeover
        self._notes: deque[tuple[float, str]] = deque(maxlen=6)
        self._last_now: float | None = None
        self.learnable = [n for n, p in registry.params.items()] + [
            n for n, a in registry.actions.items() if a.remote and n not in LEARN_ACTIONS
        ]

    # -- the mapper ----------------------------------------------------------------------
    def __call__(
        self, events: list[Event], targets: Mapping[str, float], now: float
    ) -> list[Event]:
        dt = 0.0 if self._last_now is None else max(0.0, now - self._last_now)
        self._last_now = now
        if not events and not self._glides:
            return events
        out: list[Event] = []
        current = dict(targets)
        for e in self._decoded(events):
            if isinstance(e, ClockTick):
                self.clock.update(e)
            elif isinstance(e, DeviceNotice):
                self._notice(e, targets)
            elif e.control and e.target in self.registry.params:
                mapped = self._midi(e, current)
                if mapped is not None:
                    out.append(mapped)
            else:
                if e.target in LEARN_ACTIONS:
                    self._learn(e.target)
                elif e.target in self.registry.params and not e.relative:
                    param = self.registry.params[e.target]
                    current[e.target] = param.clamp(
                        param.from_normalized(e.value) if e.normalized else e.value
                    )
                out.append(e)
        for key, glided in self._glides.step(current, dt):
            self.takeover.wrote(
                key, self.registry.params[glided.target].to_normalized(glided.value)
            )
            out.append(glided)
        return out

    def _decoded(self, events: list[Event]) -> list[Event]:
        """The events with each MidiMessage replaced by what its device's bindings make of it."""
        if not any(isinstance(e, MidiMessage) for e in events):
            return events
        decoders = self.decoders()
        out: list[Event] = []
        for e in events:
            if not isinstance(e, MidiMessage):
                out.append(e)
                continue
            decoder = decoders.get(e.source)
            if decoder is None:
                continue
            try:
                out += decoder.decode(e)
            except Exception:  # one odd message must not drop the frame's other events
                decoder.counters.unmapped += 1
                log.debug("MIDI message not mapped: %s", e, exc_info=True)
        return out

    def _midi(self, e: ControlEvent, current: dict[str, float]) -> ControlEvent | None:
        param = self.registry.params[e.target]
        p = param.to_normalized(current[e.target])
        key = (e.source, e.control, e.target)
        lo, hi = e.span
        if e.relative:
            if param.kind == "bool":
                v = hi if e.value > 0 else lo
            else:
                v = min(hi, max(lo, p + e.value))
            self.takeover.apply(key, "none", v, p)
        else:
            maybe = self.takeover.apply(key, e.takeover, e.value, p, lo, hi)
            if maybe is None:
                return None
            v = maybe
        if e.smoothing > 0:
            self._glides.start(key, e, v, p)
            return None
        value = param.clamp(param.from_normalized(v))
        current[e.target] = value
        self.takeover.wrote(key, param.to_normalized(value))
        return self._out(e, value)

    @staticmethod
    def _out(e: ControlEvent, value: float) -> ControlEvent:
        # In the parameter's units now, still naming its control, so feedback does not echo
        # the value back to the control that sent it.
        return ControlEvent(
            e.target, value, source=e.source, received=e.received, control=e.control
        )

    # -- notices and learn ---------------------------------------------------------------
    def _notice(self, e: DeviceNotice, targets: Mapping[str, float]) -> None:
        self._notes.append((time.monotonic() + NOTE_S, f"MIDI: {e.text}"))
        if e.kind in ("learned", "learn-cancelled"):
            self.learning = None
        elif e.kind == "opened" and self.on_device is not None:
            self.on_device(e.device, targets)  # light the LEDs with the current state

    def _learn(self, action: str) -> None:
        if action == "learn.cancel":
            if self.learning is not None:
                log.info("MIDI learn cancelled")
                self.learning = None
                self.arm(None)
            return
        # Each press moves on from the last target armed, so after learning one fader the
        # next press offers the next parameter.
        i = self.learnable.index(self._cursor) + 1 if self._cursor in self.learnable else 0
        self.learning = self._cursor = self.learnable[i % len(self.learnable)]
        log.info("MIDI learn armed for %s: move a control", self.learning)
        self.arm(self.learning)

    # -- hooks for the loop --------------------------------------------------------------
    def phase_sync(
        self, phase: float, values: Mapping[str, float], dt: float, now: float
    ) -> float | None:
        # Clock events are stamped in real time, whatever clock the loop runs on.
        return self.clock.phase(phase, values, dt, time.monotonic())

    def hud_lines(self) -> list[str]:
        now = time.monotonic()
        lines = list(self.status_lines())
        clock = self.clock.describe(now)
        if clock:
            lines.append(clock)
        if self.learning:
            lines.append(
                f"MIDI learn -> {self.learning}: move a control (L: next, Backspace: cancel)"
            )
        lines += [text for until, text in self._notes if until > now]
        return lines
