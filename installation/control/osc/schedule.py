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
from dataclasses import replace

from installation.control.mapping import Glides
from installation.events import ControlEvent, Event
from installation.params import Registry


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
        self._glides = Glides(registry)  # keyed by target
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
        if not self._glides:
            return out
        # Glide steps go first: anything else this frame (a MIDI fader, mapped by a later
        # mapper) is applied after them and wins, and the glide then gives way (Glides).
        return [glided for _key, glided in self._glides.step(dict(targets), dt)] + out

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
        # the MIDI mapper, after takeover. Both glide with control/mapping.Glides.
        if (
            event.smoothing > 0
            and not event.control
            and event.target in self.registry.params
            and not event.relative
        ):
            param = self.registry.params[event.target]
            goal = event.value if event.normalized else param.to_normalized(event.value)
            current = param.to_normalized(targets.get(event.target, param.default))
            self._glides.start(event.target, event, min(1.0, max(0.0, goal)), current)
            return
        self._glides.stop(event.target)  # a direct change stops a glide on that target
        out.append(event)
