"""Feedback out: LEDs and motor faders follow the show's state where a profile says how.

Called on the main thread after each frame's targets change; it only computes the bytes
and hands them to the MIDI service's bounded outbox (the service thread sends them). A
value is not sent back to the very control that just set it (no echo, which would fight a
fader under the performer's finger), but it is sent to every other control and device.
"""

from __future__ import annotations

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
