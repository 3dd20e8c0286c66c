"""What crosses the boundary from input threads to the render loop, all frozen.

Every source (OSC, MIDI, the keyboard, replay files) hands the loop a `ControlEvent`
through one `EventQueue`, so the loop never knows which protocol a change came from. Small
types ride the same queue for the loop's mapper step and never reach the registry:
`MidiMessage` (a MIDI channel message as a port sent it, before any mapping), `ClockTick`
(tempo and beat position from a MIDI clock) and `DeviceNotice` (a device came or went, a
control was learned). Everything is immutable, so it crosses threads safely.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ControlEvent:
    """A request to change a parameter or trigger an action from the registry.

    target: a parameter or action name from `installation.params.REGISTRY` ("walk.speed").
    value: in the parameter's own units, unless `normalized` (0..1 of its range) or
        `relative` (added to the current target, in the parameter's units; normalized
        relative steps are fractions of the range).
    source: who sent it ("keyboard", "osc:127.0.0.1:5000", "midi:nanoKONTROL2"), used to
        avoid echoing feedback back to its sender.
    received: time.monotonic() when it arrived, for latency figures.

    How to apply it, where the source's mapping says (the loop's mapper step does it, not
    the thread that decoded the event):
    control: the physical control that sent it ("cc:0:7"): takeover state and echo guard.
    takeover: none | pickup | scale, against the parameter's current target.
    span: the control's range, normalised to the parameter (takeover meets it there).
    smoothing: glide time constant in seconds toward `value` (0: at once).
    due: apply in the first frame at or after this time on the loop's clock (an OSC
        bundle's timetag); None: the next frame.
    text: a name that comes with it (`/scene/rename 2 intro`); empty for most events.
    """

    target: str
    value: float = 1.0
    normalized: bool = False
    relative: bool = False
    source: str = "keyboard"
    received: float = field(default_factory=time.monotonic)
    control: str = ""
    takeover: str = "none"
    span: tuple[float, float] = (0.0, 1.0)
    smoothing: float = 0.0
    due: float | None = None
    text: str = ""


@dataclass(frozen=True)
class MidiMessage:
    """A MIDI message as it arrived, decoded from its bytes but not mapped yet.

    The port's input thread makes it; the MIDI mapper step on the loop's thread looks up
    the device's bindings, pairs 14-bit and NRPN messages and applies the curve.
    source: "midi:<device>". kind: mido's message type ("control_change", "note_on",
    "note_off", "pitchwheel", "program_change", "aftertouch", "polytouch", or a system
    common one such as "tune_request"). channel: 0-15, or -1 for a system message.
    number: the CC, note or program (0 where the kind has none). value: the CC value,
    velocity or pressure, or the pitch bend 0..16383 (8192: centre).
    """

    source: str
    kind: str
    channel: int
    number: int
    value: int
    received: float


@dataclass(frozen=True)
class ClockTick:
    """A MIDI clock's state at `at` (a tick's arrival): tempo, beat position, transport."""

    source: str
    running: bool
    bpm: float
    beat: float
    at: float


@dataclass(frozen=True)
class DeviceNotice:
    """A line for the HUD and the mapper: a device opened or closed, a control learned, a scene."""

    kind: str
    text: str = ""
    device: str = ""
    source: str = ""
    received: float = field(default_factory=time.monotonic)


# What the event queue carries.
Event = ControlEvent | MidiMessage | ClockTick | DeviceNotice


class EventQueue:
    """A bounded, thread-safe queue of Events.

    Producers never block: when the render loop falls behind, new events are dropped and
    counted rather than growing memory without bound (a flood must not take the show down).
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=maxsize)
        self._dropped = 0
        self._lock = threading.Lock()  # several producer threads count drops

    @property
    def dropped(self) -> int:
        return self._dropped

    def __len__(self) -> int:
        return self._queue.qsize()

    def put(self, event: Event) -> bool:
        try:
            self._queue.put_nowait(event)
            return True
        except queue.Full:
            with self._lock:
                self._dropped += 1
            return False

    def drain(self) -> list[Event]:
        """Everything queued right now, oldest first; never blocks."""
        events: list[Event] = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events
