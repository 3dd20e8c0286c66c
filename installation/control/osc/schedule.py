"""The render loop's side of OSC: a mapper that releases each batch whole in the first frame
at or after its time, and runs the per-mapping smoothing.

It runs on the main thread (as a `LoopHooks` mapper), so scheduled bundles never make the
receiver sleep (python-osc's dispatcher does, unless strict_timing=False). It is a pure
function of its state, the queued batches and the loop's `now`, so tests drive it with
made-up times.
"""

from __future__ import annotations

import heapq
import queue
from collections.abc import Mapping
from dataclasses import dataclass

from installation.control.mapping import smooth
from installation.control.osc.receiver import Batch
from installation.events import ControlEvent
from installation.params import Registry


@dataclass
class _Glide:
    value: float
    goal: float
    tau: float
    source: str
    received: float


class Scheduler:
    def __init__(self, batches: queue.Queue[Batch], registry: Registry, max_pending: int = 1024,
                 max_delay: float = 10.0) -> None:
        self.batches, self.registry, self.max_pending = batches, registry, max_pending
        # The receiver clamps delays on time.monotonic; a loop on another clock (fixed-step
        # offline renders) gets the same bound here, so nothing waits forever.
        self.max_delay = max_delay
        self.dropped = 0  # scheduled batches beyond max_pending (written on the main thread only)
        self._pending: list[tuple[float, int, Batch]] = []
        self._seq = 0
        self._glides: dict[str, _Glide] = {}
        self._last_now: float | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __call__(self, events: list[ControlEvent], targets: Mapping[str, float], now: float) -> list[ControlEvent]:
        dt = 0.0 if self._last_now is None else max(0.0, now - self._last_now)
        self._last_now = now
        ready: list[Batch] = []
        while True:
            try:
                batch = self.batches.get_nowait()
            except queue.Empty:
                break
            if batch.due is None or batch.due <= now:
                ready.append(batch)
            elif len(self._pending) < self.max_pending:
                self._seq += 1  # ties keep arrival order
                heapq.heappush(self._pending, (min(batch.due, now + self.max_delay), self._seq, batch))
            else:
                self.dropped += 1
        while self._pending and self._pending[0][0] <= now:
            ready.append(heapq.heappop(self._pending)[2])
        out = list(events)
        for event in events:  # a direct change (keyboard, MIDI) stops a glide on that target
            self._glides.pop(event.target, None)
        for batch in ready:
            for item in batch.items:
                event = item.event
                if item.smoothing > 0 and event.target in self.registry.params and not event.relative:
                    glide = self._glides.get(event.target)
                    start = glide.value if glide else targets.get(event.target, event.value)
                    self._glides[event.target] = _Glide(start, event.value, item.smoothing,
                                                        event.source, event.received)
                else:
                    self._glides.pop(event.target, None)
                    out.append(event)
        for target, glide in list(self._glides.items()):
            glide.value = smooth(glide.value, glide.goal, dt, glide.tau)
            out.append(ControlEvent(target, glide.value, source=glide.source, received=glide.received))
            if glide.value == glide.goal:
                del self._glides[target]
        return out
