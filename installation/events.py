"""The one message every input source produces: a frozen `ControlEvent`.

OSC, MIDI, the keyboard and replay files all speak this, so the render loop never knows
which protocol a change came from. Events are immutable so they can cross threads safely.
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
    """

    target: str
    value: float = 1.0
    normalized: bool = False
    relative: bool = False
    source: str = "keyboard"
    received: float = field(default_factory=time.monotonic)


class EventQueue:
    """A bounded, thread-safe queue of ControlEvents.

    Producers never block: when the render loop falls behind, new events are dropped and
    counted rather than growing memory without bound (a flood must not take the show down).
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._queue: queue.Queue[ControlEvent] = queue.Queue(maxsize=maxsize)
        self._dropped = 0
        self._lock = threading.Lock()  # several producer threads count drops

    @property
    def dropped(self) -> int:
        return self._dropped

    def put(self, event: ControlEvent) -> bool:
        try:
            self._queue.put_nowait(event)
            return True
        except queue.Full:
            with self._lock:
                self._dropped += 1
            return False

    def drain(self) -> list[ControlEvent]:
        """Everything queued right now, oldest first; never blocks."""
        events: list[ControlEvent] = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events
