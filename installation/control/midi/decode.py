"""One port's MIDI in: bytes to messages on the input thread, messages to events on the loop's.

`MidiReader` is all the work done on a port's input thread (mido's rule: the backend thread
only decodes and queues). Raw bytes are split into messages honouring running status (a
status byte may be omitted while it repeats; JACK and raw ports pass that through, and
mido's parser would drop it) and decoded with mido; each becomes one frozen `MidiMessage`
on the loop's bounded queue. Clock messages become `ClockTick`s (their arrival times are
the tempo), and while MIDI learn is armed messages go to learn instead. Nothing blocks.

`MidiDecoder` runs in the MIDI mapper step on the loop's thread: it looks a message up in
the device's bindings and applies the curve. 14-bit CCs pair an MSB (CC 0-31) with its LSB
(CC +32); as the MIDI spec says, a new MSB resets the LSB to 0. NRPNs are selected with CC
99/98 and set with data entry CC 6/38 or stepped with CC 96/97.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import mido

from installation.control.midi.bindings import Binding, BindingTable, decode_relative
from installation.control.midi.clock import ClockTracker
from installation.events import ControlEvent, DeviceNotice, Event, MidiMessage

log = logging.getLogger(__name__)

Sink = Callable[[Event], object]
# (device, message, time) -> True when MIDI learn took the message instead of the mapping.
Capture = Callable[[str, mido.Message, float], bool]

# Data bytes after each status (channel messages by their high nibble).
_DATA_LEN = {
    0x80: 2,
    0x90: 2,
    0xA0: 2,
    0xB0: 2,
    0xC0: 1,
    0xD0: 1,
    0xE0: 2,
    0xF1: 1,
    0xF2: 2,
    0xF3: 1,
    0xF6: 0,
}
_CLOCK_TYPES = {"clock", "start", "stop", "continue", "songpos"}
_CONTROL_TYPES = {"control_change", "note_on", "note_off", "pitchwheel"}


@dataclass
class Counters:
    """A device's counts, read (whole ints) for the HUD. Each field has one writer: the
    reader's input thread counts all but `unmapped`, which the loop's decoder counts."""

    messages: int = 0
    unmapped: int = 0
    invalid: int = 0
    sysex: int = 0
    clock: int = 0


class MidiReader:
    """A port's bytes -> MidiMessages (and clock ticks, learn captures), on its input thread."""

    def __init__(
        self,
        device: str,
        sink: Sink,
        *,
        clock: bool = True,
        capture: Capture | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.device = device
        self.source = f"midi:{device}"
        self.sink = sink
        self.capture = capture
        self.clock = ClockTracker(self.source) if clock else None
        self.counters = counters or Counters()
        self._status = 0  # running status

    # -- bytes -> messages ---------------------------------------------------------------
    def feed(self, data: Sequence[int], t: float) -> None:
        """Raw bytes from a port (one or more messages, maybe in running status)."""
        if data and data[0] == 0xF0 and data[-1] == 0xF7:
            # A whole SysEx (only let through when midi.sysex is on): nothing maps SysEx, so
            # count it without parsing it byte by byte; a flood costs next to nothing.
            self.counters.messages += 1
            self.counters.sysex += 1
            return
        for raw in self._split(data):
            try:
                msg = mido.Message.from_bytes(raw)
            except ValueError:
                self.counters.invalid += 1
                continue
            self.handle(msg, t)

    def _split(self, data: Sequence[int]) -> list[list[int]]:
        out: list[list[int]] = []
        if max(data, default=0) >= 0xF8:
            # Realtime bytes (clock, start, stop ...) may sit anywhere, even inside another
            # message, and leave running status alone: take them out first.
            out += [[b] for b in data if b >= 0xF8]
            data = [b for b in data if b < 0xF8]
        i, n = 0, len(data)
        while i < n:
            b = data[i]
            if b == 0xF0:
                end = next((j for j in range(i + 1, n) if data[j] == 0xF7), None)
                self._status = 0
                if end is None:
                    self.counters.invalid += 1  # truncated SysEx
                    return out
                out.append(list(data[i : end + 1]))
                i = end + 1
                continue
            if b >= 0x80:
                status = b
                self._status = b if b < 0xF0 else 0  # system common cancels running status
                i += 1
            elif self._status:
                status = self._status
            else:
                self.counters.invalid += 1  # a stray data byte
                i += 1
                continue
            length = _DATA_LEN.get(status & 0xF0 if status < 0xF0 else status)
            if length is None:
                self.counters.invalid += 1
                continue
            body = list(data[i : i + length])
            if len(body) < length or any(x >= 0x80 for x in body):
                self.counters.invalid += 1
                i += next((k for k, x in enumerate(body) if x >= 0x80), len(body))
                continue
            out.append([status, *body])
            i += length
        return out

    # -- messages -> the queue -----------------------------------------------------------
    def handle(self, msg: mido.Message, t: float) -> None:
        self.counters.messages += 1
        kind = msg.type
        if kind in _CLOCK_TYPES:
            self.counters.clock += 1
            if self.clock is not None:
                event = self.clock.handle(kind, t, getattr(msg, "pos", 0))
                if event is not None:
                    self.sink(event)
            return
        if kind == "sysex":
            self.counters.sysex += 1
            return
        if (
            kind in _CONTROL_TYPES
            and self.capture is not None
            and self.capture(self.device, msg, t)
        ):
            return
        self.sink(MidiMessage(self.source, kind, *_fields(msg), received=t))


def _fields(msg: mido.Message) -> tuple[int, int, int]:
    """(channel, number, value) of a message; channel -1 for a system message."""
    kind = msg.type
    if kind == "control_change":
        number, value = msg.control, msg.value
    elif kind in ("note_on", "note_off"):
        number, value = msg.note, msg.velocity
    elif kind == "pitchwheel":
        number, value = 0, msg.pitch + 8192
    elif kind == "program_change":
        number, value = msg.program, 0
    else:  # aftertouch, polytouch, system common: nothing binds them (yet)
        number, value = getattr(msg, "note", 0), getattr(msg, "value", 0)
    return getattr(msg, "channel", -1), number, value


class MidiDecoder:
    """A device's MidiMessages -> ControlEvents through its bindings, on the loop's thread."""

    def __init__(
        self,
        device: str,
        table: BindingTable,
        *,
        scenes: Mapping[str, Mapping[str, float]] | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.device = device
        self.source = f"midi:{device}"
        self.table = table  # replaced whole after MIDI learn
        self.scenes = dict(scenes or {})
        self.counters = counters or Counters()
        self._events: list[Event] = []
        self.sink: Sink = self._events.append
        self._msb: dict[tuple[int, int], int] = {}  # (channel, cc) -> last 14-bit MSB
        self._nrpn: dict[
            int, list[int]
        ] = {}  # channel -> [param msb, param lsb, data msb, is_nrpn]
        self._held: dict[tuple[str, str], Binding] = {}  # gates on: (control, target) -> binding

    def decode(self, msg: MidiMessage) -> list[Event]:
        """The events one message stands for under the current bindings (maybe none)."""
        handler = getattr(self, f"_on_{msg.kind}", None)
        if handler is None or not handler(msg, msg.received):
            self.counters.unmapped += 1
        events = self._events.copy()
        self._events.clear()
        return events

    # -- messages -> events --------------------------------------------------------------
    def _on_control_change(self, msg: MidiMessage, t: float) -> bool:
        ch, n, v = msg.channel, msg.number, msg.value
        table = self.table
        if n in (99, 98, 101, 100):
            state = self._nrpn.setdefault(ch, [0, 0, 0, 0])
            if n in (99, 98):
                state[0 if n == 99 else 1] = v
                state[3] = 1
            else:
                state[3] = 0  # an RPN selection: data entry is not ours
            if not table.has("cc", ch, n):
                return self._any_nrpn(ch)
        elif n in (6, 38, 96, 97) and self._nrpn.get(ch, [0, 0, 0, 0])[3]:
            if self._on_nrpn_data(ch, n, v, t):
                return True
        mapped = False
        if n < 32 and table.has("cc14", ch, n):
            self._msb[(ch, n)] = v
            for b in table.lookup("cc14", ch, n):
                self._absolute(b, (v << 7) / 16383, t)
            mapped = True
        elif 32 <= n < 64 and table.has("cc14", ch, n - 32):
            value = (self._msb.get((ch, n - 32), 0) << 7) | v
            for b in table.lookup("cc14", ch, n - 32):
                self._absolute(b, value / 16383, t)
            mapped = True
        for b in table.lookup("cc", ch, n):
            mapped = True
            if b.encoder != "absolute":
                self._relative(b, decode_relative(v, b.encoder), t)
            elif b.is_action or b.mode in ("trigger", "gate"):
                self._button(b, v >= 64, t)
            else:
                self._absolute(b, v / 127, t)
        return mapped

    def _any_nrpn(self, ch: int) -> bool:
        return any(b.kind == "nrpn" and b.channel in (None, ch) for b in self.table.bindings)

    def _on_nrpn_data(self, ch: int, n: int, v: int, t: float) -> bool:
        state = self._nrpn[ch]
        bindings = self.table.lookup("nrpn", ch, (state[0] << 7) | state[1])
        for b in bindings:
            if n == 6:
                state[2] = v
                self._absolute(b, v / 127 if b.bits == 7 else (v << 7) / 16383, t)
            elif n == 38 and b.bits == 14:
                self._absolute(b, ((state[2] << 7) | v) / 16383, t)
            elif n in (96, 97):
                self._relative(b, 1 if n == 96 else -1, t)
        return bool(bindings)

    def _on_note_on(self, msg: MidiMessage, t: float) -> bool:
        if msg.value == 0:
            return self._on_note_off(msg, t)
        bindings = self.table.lookup("note", msg.channel, msg.number)
        for b in bindings:
            if b.mode == "velocity":
                self._absolute(b, msg.value / 127, t)
            else:
                self._button(b, True, t)
        return bool(bindings)

    def _on_note_off(self, msg: MidiMessage, t: float) -> bool:
        bindings = self.table.lookup("note", msg.channel, msg.number)
        for b in bindings:
            if b.mode == "gate":
                self._button(b, False, t)
        return bool(bindings)

    def _on_pitchwheel(self, msg: MidiMessage, t: float) -> bool:
        bindings = self.table.lookup("pitchbend", msg.channel, 0)
        for b in bindings:
            self._absolute(b, msg.value / 16383, t)
        return bool(bindings)

    def _on_program_change(self, msg: MidiMessage, t: float) -> bool:
        programs = self.table.programs()
        scene = programs.get(msg.number) or programs.get(-1)
        if scene is None and not programs and msg.number < len(self.scenes):
            scene = list(self.scenes)[msg.number]  # no program mappings: program N = Nth scene
        if scene is None and not programs and not self.scenes:
            # No scenes in show.yaml: program N is cue N of the scene file (instruments/).
            self.sink(
                ControlEvent("cue.jump", float(msg.number + 1), source=self.source, received=t)
            )
            return True
        if scene is None or scene not in self.scenes:
            return False
        for name, value in self.scenes[scene].items():
            self.sink(ControlEvent(name, value, source=self.source, received=t))
        self.sink(
            DeviceNotice(
                "scene",
                f"scene {scene} (program {msg.number + 1})",
                self.device,
                source=self.source,
                received=t,
            )
        )
        return True

    # -- events --------------------------------------------------------------------------
    def _absolute(self, b: Binding, x: float, t: float) -> None:
        # Takeover is for controls with a physical position (faders, knobs, bend wheels).
        # A note's velocity has none to pick up: it applies as it comes.
        takeover = "none" if b.is_bool or b.kind == "note" else b.takeover
        self.sink(
            ControlEvent(
                b.target,
                b.value_at(x),
                normalized=True,
                source=self.source,
                received=t,
                control=b.control,
                span=(b.lo, b.hi),
                takeover=takeover,
                smoothing=b.smoothing,
            )
        )

    def _relative(self, b: Binding, ticks: int, t: float) -> None:
        if ticks == 0:
            return
        step = ticks * b.step * (b.hi - b.lo) * (-1.0 if b.invert else 1.0)
        self.sink(
            ControlEvent(
                b.target,
                step,
                normalized=True,
                relative=True,
                source=self.source,
                received=t,
                control=b.control,
                span=(min(b.lo, b.hi), max(b.lo, b.hi)),
                smoothing=b.smoothing,
            )
        )

    def _button(self, b: Binding, pressed: bool, t: float) -> None:
        if b.is_action:
            if pressed:
                self.sink(ControlEvent(b.target, 1.0, source=self.source, received=t))
        elif b.mode == "trigger":
            if pressed and b.is_bool:  # a toggle
                self.sink(
                    ControlEvent(b.target, 1.0, relative=True, source=self.source, received=t)
                )
            elif pressed:
                self.sink(
                    ControlEvent(
                        b.target,
                        b.value_at(1.0),
                        normalized=True,
                        source=self.source,
                        received=t,
                        control=b.control,
                        span=(b.lo, b.hi),
                    )
                )
        else:  # gate: on while held
            if pressed:
                self._held[(b.control, b.target)] = b
            else:
                self._held.pop((b.control, b.target), None)
            self.sink(
                ControlEvent(
                    b.target,
                    b.value_at(1.0 if pressed else 0.0),
                    normalized=True,
                    source=self.source,
                    received=t,
                    control=b.control,
                    span=(b.lo, b.hi),
                )
            )

    def release_all(self, t: float) -> list[Event]:
        """Events that let go of every gate held on this device (it was unplugged mid-press,
        its note-off will never come). The service queues them for the loop."""
        held, self._held = self._held, {}
        return [
            ControlEvent(
                b.target,
                b.value_at(0.0),
                normalized=True,
                source=self.source,
                received=t,
                control=b.control,
                span=(b.lo, b.hi),
            )
            for b in held.values()
        ]
