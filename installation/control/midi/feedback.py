"""Feedback out: LEDs and motor faders follow the show's state where a profile says how.

Called on the main thread after each frame's targets change; it only computes the bytes
and hands them to the MIDI service's bounded outbox (the service thread sends them). A
value is not sent back to the very control that just set it (no echo, which would fight a
fader under the performer's finger), but it is sent to every other control and device.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping

from installation.control.midi.bindings import BindingTable, feedback_messages
from installation.events import ControlEvent
from installation.params import Registry

Send = Callable[[str, tuple[int, ...]], object]


class MidiFeedback:
    def __init__(
        self, registry: Registry, tables: Callable[[], Mapping[str, BindingTable]], send: Send
    ) -> None:
        self.registry = registry
        self.tables = tables  # device -> table, for devices with an open output
        self.send = send

    def __call__(self, changed: dict[str, float], events: list[ControlEvent]) -> None:
        tables = self.tables()
        if not changed or not tables:
            return
        last = {e.target: (e.source, e.control) for e in events}
        for device, table in tables.items():
            source = f"midi:{device}"
            for target, value in changed.items():
                param = self.registry.params.get(target)
                if param is None:
                    continue
                for b in table.feedback_for(target):
                    if last.get(target) == (source, b.control):
                        continue  # that control sent it: it already shows it
                    for message in feedback_messages(b, param.to_normalized(value)):
                        self.send(device, message)

    def full_state(self, device: str, targets: Mapping[str, float]) -> None:
        """Everything a (re)connected device should show."""
        table = self.tables().get(device)
        if table is None:
            return
        for b in table.bindings:
            param = self.registry.params.get(b.target)
            if b.feedback and param is not None and b.target in targets:
                for message in feedback_messages(b, param.to_normalized(targets[b.target])):
                    self.send(device, message)


class FeedbackOutbox:
    """MIDI feedback between the main thread (`put`, never blocks) and the service thread
    (`take`), bounded: when the service falls behind, new messages are dropped and counted."""

    SIZE = 4096

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, tuple[int, ...]]] = queue.Queue(self.SIZE)
        self.dropped = 0  # written by the main thread only

    def put(self, device: str, message: tuple[int, ...]) -> None:
        try:
            self._queue.put_nowait((device, message))
        except queue.Full:
            self.dropped += 1

    def take(self, timeout: float) -> list[tuple[str, tuple[int, ...]]]:
        """What is queued (waiting up to `timeout` for the first), newest value per control:
        a motor fader needs no backlog. NRPN address and data CCs keep their order."""
        try:
            batch = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        latest: dict[tuple, tuple[str, tuple[int, ...]]] = {}
        for i, (device, msg) in enumerate(batch):
            nrpn = (msg[0] & 0xF0) == 0xB0 and msg[1] in (6, 38, 98, 99)
            key = (device, i) if nrpn else (device, msg[0], msg[1])
            latest.pop(key, None)
            latest[key] = (device, msg)
        return list(latest.values())
