"""The render loop's side of OSC: a mapper that releases a bundle's events together in the
first frame at or after its timetag (`due`), and runs the OSC mappings' smoothing.

It runs on the main thread (as one of the loop's mappers), so scheduled bundles never make
the receiver sleep (python-osc's dispatcher does, unless strict_timing=False). It is a pure
function of its state, the frame's events and the loop's `now`, so tests drive it with
made-up times.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, replace

from installation.events import ControlEvent, Event
from installation.params import Registry, smooth


@dataclass
class _Glide:
    value: float
    goal: float
    tau: float
    source: str
    received: float


class Scheduler:
    def __init__(
        self, registry: Registry, max_pending: int = 1024, max_delay: float = 10.0
    ) -> None:
        self.registry, self.max_pending = registry, max_pending
        # The receiver clamps delays on time.monotonic; a loop on another clock (fixed-step
        # offline renders) gets the same bound here, so nothing waits forever.
        self.max_delay = max_delay
        self.dropped = 0  # scheduled events beyond max_pending (written on the main thread only)
        self._pending: list[tuple[float, int, ControlEvent]] = []
        self._seq = 0
        self._glides: dict[str, _Glide] = {}
        self._last_now: float | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __call__(
        self, events: list[Event], targets: Mapping[str, float], now: float
    ) -> list[Event]:
        dt = 0.0 if self._last_now is None else max(0.0, now - self._last_now)
        self._last_now = now
        out: list[Event] = []
        for event in events:
            if isinstance(event, ControlEvent) and event.due is not None and event.due > now:
                self._hold(event, now)
            else:
                self._apply(event, targets, out)
        while self._pending and self._pending[0][0] <= now:
            self._apply(heapq.heappop(self._pending)[2], targets, out)
        for target, glide in list(self._glides.items()):
            glide.value = smooth(glide.value, glide.goal, dt, glide.tau)
            out.append(
                ControlEvent(target, glide.value, source=glide.source, received=glide.received)
            )
            if glide.value == glide.goal:
                del self._glides[target]
        return out

    def _hold(self, event: ControlEvent, now: float) -> None:
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._seq += 1  # ties keep arrival order: a bundle's events stay together, in order
        heapq.heappush(
            self._pending, (min(event.due or now, now + self.max_delay), self._seq, event)
        )

    def _apply(self, event: Event, targets: Mapping[str, float], out: list[Event]) -> None:
        if not isinstance(event, ControlEvent):
            out.append(event)  # for another mapper (a MIDI clock tick, a device notice)
            return
        if event.due is not None:
            event = replace(event, due=None)  # released: it applies now
        # An OSC mapping's smoothing glides here; a control's (MIDI: `control` set) glides in
        # its own mapper, with takeover.
        if (
            event.smoothing > 0
            and not event.control
            and event.target in self.registry.params
            and not event.relative
        ):
            glide = self._glides.get(event.target)
            start = glide.value if glide else targets.get(event.target, event.value)
            self._glides[event.target] = _Glide(
                start, event.value, event.smoothing, event.source, event.received
            )
            return
        self._glides.pop(event.target, None)  # a direct change stops a glide on that target
        out.append(event)
