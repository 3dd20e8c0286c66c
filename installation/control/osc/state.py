"""State out: what the show is doing, for patches that sync their own visuals to it.

Tempo, beat phase, bar, walk phase, keyframe, model and fps, from the render loop's status
(a few times a second). They go to the feedback clients at `osc.state_rate`, are read-only
OSCQuery nodes (LISTEN follows them), and are in the /status reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class StateField:
    key: str  # in the loop's status dict
    tag: str  # OSC type: f, i or s
    unit: str
    description: str

    @property
    def address(self) -> str:
        return f"/state/{self.key}"


STATE_FIELDS: tuple[StateField, ...] = (
    StateField(
        "bpm",
        "f",
        "bpm",
        "The show's tempo (MIDI clock, /tempo, tap tempo) when one is known, else the walk's: "
        "keyframes/s x walk.beats x 60.",
    ),
    StateField("beat", "f", "", "Beat phase: 0..1 through the current beat."),
    StateField("beat_in_bar", "i", "", "Beat of the bar, 1..walk.beats."),
    StateField("bar", "i", "", "Bar number from 1; a bar is one keyframe of the walk."),
    StateField("phase", "f", "keyframes", "Walk phase: keyframes travelled since the start."),
    StateField("keyframe", "i", "", "Index of the keyframe the walk is leaving."),
    StateField("model", "s", "", "Id of the playing model."),
    StateField("version", "i", "", "Version of the playing model."),
    StateField("fps", "f", "fps", "Frames per second presented."),
)
BY_ADDRESS = {f.address: f for f in STATE_FIELDS}


def state_value(field: StateField, status: Mapping[str, object]) -> object | None:
    """The field's value as its OSC type, or None when the status does not have it yet."""
    value = status.get(field.key)
    if value is None:
        return None
    if field.tag == "s":
        return str(value)
    if field.tag == "i":
        return int(value)  # type: ignore[call-overload]
    return float(value)  # type: ignore[arg-type]


def state_messages(status: Mapping[str, object]) -> list[tuple[str, object]]:
    """(address, argument) for every state field the status has."""
    out = []
    for f in STATE_FIELDS:
        value = state_value(f, status)
        if value is not None:
            out.append((f.address, value))
    return out
