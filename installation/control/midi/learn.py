"""MIDI learn: from the messages a moved control sent, a mapping a person can read and edit.

The service collects a device's messages for a short while after learn is armed, then
`infer_mapping` decides what control that was: an NRPN (CC 99/98 then data entry), a 14-bit
CC (an MSB 0-31 followed by its LSB 32-63), a relative encoder (the same small step values
repeating, which an absolute control never sends), a plain CC, a note or the pitch bend.
`save_learned` writes it into the learned profile atomically, replacing any earlier mapping
of the same control on the same device.
"""

from __future__ import annotations

import queue
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mido
import yaml

from installation.control.midi.config import CONTROL_KEYS, MidiMapping, load_profile
from installation.files import atomic_write_bytes
from installation.params import Registry

WINDOW_S = 0.4  # how long after a control's first message learn decides what it is

HEADER = """\
# MIDI learn writes this file (L in the show's HUD, or the OSC action /learn).
# Edit it freely: each line maps one control of one device (a port name prefix) to a
# parameter or action; see docs/midi.md for every key. `installation check` validates it.
"""


def infer_mapping(
    messages: Sequence[mido.Message], target: str, registry: Registry
) -> dict[str, Any] | None:
    """A mapping entry (a plain dict, in YAML key order) for the control that sent these."""
    if not messages:
        return None
    channel = next((m.channel for m in messages if hasattr(m, "channel")), 0)
    entry: dict[str, Any] = {"channel": channel + 1}
    ccs = [m for m in messages if m.type == "control_change" and m.channel == channel]
    numbers = [m.control for m in ccs]
    is_param = target in registry.params
    if any(m.type == "pitchwheel" for m in messages) and is_param:
        entry["pitchbend"] = True
    elif {99, 98} <= set(numbers) and 6 in numbers:
        msb = next(m.value for m in ccs if m.control == 99)
        lsb = next(m.value for m in ccs if m.control == 98)
        entry["nrpn"] = (msb << 7) | lsb
        if 38 not in numbers:
            entry["bits"] = 7
    elif ccs:
        first = numbers[0]
        if first < 32 and first + 32 in numbers:
            entry["cc14"] = first
        else:
            entry["cc"] = first
            values = [m.value for m in ccs if m.control == first]
            encoder = guess_encoder(values)
            if encoder and is_param:
                entry["encoder"] = encoder
            elif is_param and registry.params[target].kind == "bool" and set(values) <= {0, 127}:
                entry["mode"] = "trigger"  # a button on a switch: each press toggles it
    else:
        notes = [m for m in messages if m.type == "note_on" and m.velocity > 0]
        if not notes:
            return None
        entry["channel"] = notes[0].channel + 1
        entry["note"] = notes[0].note
    entry["target"] = target
    MidiMapping.model_validate(entry)  # what we write must load again
    return entry


def guess_encoder(values: Sequence[int]) -> str | None:
    """Which relative encoding these CC values look like, or None for an absolute control."""
    if len(values) < 3:
        return None
    repeats = sum(1 for a, b in zip(values, values[1:], strict=False) if a == b)
    if repeats < len(values) // 2:
        return None  # an absolute control moving never repeats a value
    kinds = set()
    for v in Counter(values):
        if 1 <= v <= 15:
            kinds.add("up-small")
        elif 113 <= v <= 127:
            kinds.add("down-twos")
        elif 49 <= v <= 63:
            kinds.add("down-offset")
        elif 65 <= v <= 79:
            kinds.add("65+")
        else:
            return None
    if kinds <= {"up-small", "down-twos"}:
        return "twos_complement"
    if kinds <= {"down-offset", "65+"}:
        return "binary_offset"
    if kinds == {"up-small", "65+"}:
        return "signed_bit"
    return None


def save_learned(path: Path, device: str, entry: dict[str, Any]) -> None:
    """Add `entry` for `device` to the learned profile at `path` (created if missing)."""
    entry = {"device": device, **entry}
    mappings: list[dict[str, Any]] = []
    if path.is_file():
        load_profile(path)  # refuse to overwrite a file that does not validate
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        mappings = list(data.get("mappings") or [])
    control = _control_of(entry)
    mappings = [
        m for m in mappings if not (m.get("device") == device and _control_of(m) == control)
    ]
    mappings.append(entry)
    lines = [HEADER, "name: learned", "match: []", "mappings:"]
    for m in mappings:
        flow = yaml.safe_dump(m, default_flow_style=True, sort_keys=False, width=1000).strip()
        lines.append(f"  - {flow}")
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _control_of(m: dict[str, Any]) -> tuple:
    kind = next((k for k in CONTROL_KEYS if m.get(k) is not None and m.get(k) is not False), None)
    return kind, m.get(kind), m.get("channel")


class LearnCapture:
    """The messages moved controls send while learn is armed.

    The input threads `offer` messages (taken instead of mapped while armed); the service
    thread arms it and asks whether a control is `ready`. Bounded, like every queue here.
    """

    def __init__(self, size: int = 512) -> None:
        self.target: str | None = None  # read by the input threads, set by the service thread
        self._queue: queue.Queue[tuple[str, mido.Message, float]] = queue.Queue(size)
        self._captured: list[tuple[str, mido.Message, float]] = []

    def arm(self, target: str | None) -> None:
        self.target = target
        self._captured.clear()
        while not self._queue.empty():
            self._queue.get_nowait()

    def offer(self, device: str, msg: mido.Message, t: float) -> bool:
        if self.target is None:
            return False
        try:
            self._queue.put_nowait((device, msg, t))
        except queue.Full:
            pass
        return True

    def ready(self, now: float) -> tuple[str, list[mido.Message]] | None:
        """(device, its messages) once WINDOW_S has passed since the first one, else None."""
        while True:
            try:
                self._captured.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not self._captured or now - self._captured[0][2] < WINDOW_S:
            return None
        device = self._captured[0][0]
        messages = [m for d, m, _t in self._captured if d == device]
        self._captured.clear()
        return device, messages
