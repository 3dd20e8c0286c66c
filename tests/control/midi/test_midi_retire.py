"""Closed MIDI inputs are deleted a moment later, never with cancel_callback.

rtmidi's cancel_callback frees the Python callback while JACK's thread may already be in
rtmidi's trampoline waiting for the GIL: a segfault that real replug and JACK-restart runs
hit (tests/control/midi/test_midi_replugs.py, the soak). The race cannot be provoked on
demand, so this test checks the order of calls on a recording stand-in for rtmidi.MidiIn
(a fake: the real object cannot report which calls were made); the real path runs in the
JACK replug tests.
"""

from __future__ import annotations

import time

from installation.control.midi import ports


class RecordingMidiIn:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def cancel_callback(self) -> None:
        self.calls.append("cancel_callback")

    def close_port(self) -> None:
        self.calls.append("close_port")

    def delete(self) -> None:
        self.calls.append("delete")


def test_a_closed_input_is_deleted_after_its_grace_period_and_its_callback_never_cancelled(
    monkeypatch,
):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(ports, "_retired", [])
    port = ports.InputPort.__new__(ports.InputPort)  # as opened, without a MIDI system
    port._rt = first = RecordingMidiIn()
    port.close()
    assert first.calls == ["close_port"]  # closed at once, still alive
    assert ports.reap_retired() == 1 and first.calls == ["close_port"]
    clock[0] += ports.RETIRE_S / 2
    second = RecordingMidiIn()
    ports.retire_input(second)
    assert first.calls == ["close_port"] and second.calls == []
    clock[0] += ports.RETIRE_S / 2
    assert ports.reap_retired() == 1  # the first is due, the second is not yet
    assert first.calls == ["close_port", "delete"] and second.calls == []
    clock[0] += ports.RETIRE_S
    assert ports.reap_retired() == 0 and second.calls == ["delete"]
    assert "cancel_callback" not in first.calls + second.calls
