"""MIDI mapping math: compiled bindings, curves, relative encoders, feedback messages.

A `MidiMapping` from YAML is compiled once into a frozen `Binding` (channel 0-15, range
normalised to the parameter, defaults resolved), and a device's bindings into a frozen
`BindingTable` looked up by (kind, channel, number). Tables are replaced whole, never edited,
so the loop's MIDI mapper step can read them while MIDI learn builds a new one.

The value math (range, curve, invert, and its inverse for feedback) is control/mapping.py's,
shared with OSC, so a fader and a knob with the same settings agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from installation.control.mapping import map_value, unmap_value
from installation.control.midi.config import LoadedProfile, MidiConfig, MidiMapping
from installation.control.midi.names import port_matches
from installation.params import Registry


# -- curves and encoders -------------------------------------------------------------------
def decode_relative(value: int, encoder: str) -> int:
    """Encoder ticks (signed) from one relative CC value."""
    if encoder == "twos_complement":  # 1..63 up, 127..65 down (127 = -1)
        return value - 128 if value >= 64 else value
    if encoder == "binary_offset":  # 65.. up, 63.. down, 64 = no change
        return value - 64
    if encoder == "signed_bit":  # bit 6 is the sign: 1..63 up, 65..127 down (65 = -1)
        return -(value & 0x3F) if value & 0x40 else value
    raise ValueError(f"not a relative encoder: {encoder}")


# -- bindings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Binding:
    kind: str  # cc | cc14 | nrpn | note | pitchbend | program
    number: int  # cc, MSB cc, NRPN number, note, program (-1: any; pitchbend: 0)
    channel: int | None  # 0-15, None = any
    target: str  # registry name; for program: the scene
    is_action: bool = False
    is_bool: bool = False
    lo: float = 0.0
    hi: float = 1.0
    curve: str = "linear"
    invert: bool = False
    smoothing: float = 0.0
    takeover: str = "pickup"
    encoder: str = "absolute"
    step: float = 1 / 128
    mode: str = "absolute"
    bits: int = 14
    feedback: bool = False
    led_on: int = 127
    led_off: int = 0
    label: str = ""

    @property
    def control(self) -> str:
        return f"{self.kind}:{'*' if self.channel is None else self.channel}:{self.number}"

    def value_at(self, x: float) -> float:
        """Control position 0..1 -> parameter value, normalised."""
        return map_value(x, (0.0, 1.0), (self.lo, self.hi), self.curve, self.invert)  # type: ignore[arg-type]

    def position_of(self, v: float) -> float:
        """Normalised parameter value -> control position 0..1 (for feedback)."""
        return unmap_value(v, (0.0, 1.0), (self.lo, self.hi), self.curve, self.invert)  # type: ignore[arg-type]


def compile_mapping(
    m: MidiMapping, registry: Registry, *, channel: int | None = None, takeover: str = "pickup"
) -> Binding:
    """A validated mapping -> Binding; `channel` (1-16) and `takeover` are the defaults."""
    kind = m.kind
    ch = m.channel if m.channel is not None else channel
    ch0 = None if ch is None else ch - 1
    if kind == "program":
        number = -1 if m.program == "any" else int(m.program)  # type: ignore[arg-type]
        return Binding("program", number, ch0, m.scene or "", label=m.label)
    number = {"cc": m.cc, "cc14": m.cc14, "nrpn": m.nrpn, "note": m.note, "pitchbend": 0}[kind]
    param = registry.params.get(m.target or "")
    is_action = param is None
    is_bool = param is not None and param.kind == "bool"
    lo, hi = 0.0, 1.0
    if param is not None and m.range is not None:
        lo, hi = param.to_normalized(m.range[0]), param.to_normalized(m.range[1])
    mode = m.mode or _default_mode(kind, is_action, is_bool)
    return Binding(
        kind,
        int(number or 0),
        ch0,
        m.target or "",
        is_action,
        is_bool,
        lo,
        hi,
        m.curve,
        m.invert,
        m.smoothing,
        m.takeover or takeover,
        m.encoder,
        m.step,
        mode,
        m.bits,
        m.feedback,
        m.led_on,
        m.led_off,
        m.label,
    )


def _default_mode(kind: str, is_action: bool, is_bool: bool) -> str:
    if kind == "note":
        return "trigger" if (is_action or is_bool) else "velocity"
    return "trigger" if is_action else "absolute"


@dataclass(frozen=True)
class BindingTable:
    by_key: Mapping[tuple[str, int | None, int], tuple[Binding, ...]] = field(default_factory=dict)

    def lookup(self, kind: str, channel: int, number: int) -> tuple[Binding, ...]:
        return self.by_key.get((kind, channel, number)) or self.by_key.get((kind, None, number), ())

    def has(self, kind: str, channel: int, number: int) -> bool:
        return bool(self.lookup(kind, channel, number))

    @property
    def bindings(self) -> list[Binding]:
        return [b for group in self.by_key.values() for b in group]

    def feedback_for(self, target: str) -> list[Binding]:
        return [b for b in self.bindings if b.feedback and b.target == target and not b.is_action]

    def programs(self) -> dict[int, str]:
        return {b.number: b.target for b in self.bindings if b.kind == "program"}


def device_table(
    device: str,
    profile: LoadedProfile | None,
    learned: LoadedProfile | None,
    cfg: MidiConfig,
    registry: Registry,
) -> BindingTable:
    """A device's bindings, highest priority first: what MIDI learn saved, the show's own
    `midi.mappings`, then the device's profile. Mappings naming another device are left out."""

    def layer(mappings, channel=None, takeover=None):
        return [
            compile_mapping(
                m, registry, channel=channel, takeover=m.takeover or takeover or cfg.takeover
            )
            for m in mappings
            if m.device is None or port_matches(device, m.device)
        ]

    own = (
        layer(profile.profile.mappings, profile.profile.channel, profile.profile.takeover)
        if profile
        else []
    )
    return build_table(
        [layer(learned.profile.mappings) if learned else [], layer(cfg.mappings), own]
    )


def build_table(layers: Iterable[Iterable[Binding]]) -> BindingTable:
    """Merge layers, highest priority first: the first layer that binds a control owns it
    (a control may drive several targets within one layer)."""
    merged: dict[tuple[str, int | None, int], tuple[Binding, ...]] = {}
    for layer in layers:
        own: dict[tuple[str, int | None, int], list[Binding]] = {}
        for b in layer:
            own.setdefault((b.kind, b.channel, b.number), []).append(b)
        for key, group in own.items():
            merged.setdefault(key, tuple(group))
    return BindingTable(merged)


# -- feedback ------------------------------------------------------------------------------
def feedback_messages(b: Binding, value: float) -> list[tuple[int, ...]]:
    """The MIDI bytes that show normalised parameter value `value` on this control."""
    ch = b.channel or 0
    x = b.position_of(value)
    on = x >= 0.5
    if b.kind == "note":
        vel = round(x * 127) if b.mode == "velocity" else (b.led_on if on else b.led_off)
        return [(0x90 | ch, b.number, vel)]
    if b.kind == "cc":
        if b.mode in ("trigger", "gate"):
            return [(0xB0 | ch, b.number, b.led_on if on else b.led_off)]
        return [(0xB0 | ch, b.number, round(x * 127))]
    if b.kind == "cc14":
        v = round(x * 16383)
        return [(0xB0 | ch, b.number, v >> 7), (0xB0 | ch, b.number + 32, v & 0x7F)]
    if b.kind == "nrpn":
        head = [(0xB0 | ch, 99, b.number >> 7), (0xB0 | ch, 98, b.number & 0x7F)]
        if b.bits == 7:
            return [*head, (0xB0 | ch, 6, round(x * 127))]
        v = round(x * 16383)
        return [*head, (0xB0 | ch, 6, v >> 7), (0xB0 | ch, 38, v & 0x7F)]
    if b.kind == "pitchbend":
        v = round(x * 16383)
        return [(0xE0 | ch, v & 0x7F, v >> 7)]
    return []
