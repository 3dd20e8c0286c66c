"""The MIDI part of show.yaml (`midi:`) and controller profiles (`controllers/*.midi.yaml`).

One mapping schema serves both: a mapping names one control (cc, cc14, nrpn, note,
pitchbend or program), where it goes (a registry target, or a scene for program changes)
and how (range in the parameter's units, curve, invert, smoothing, takeover, encoder, mode).
Every model forbids unknown keys, so a typo in a profile is an error that names the file,
its line and the key, before any window opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from installation.config.base import (
    KeyLines,
    Section,
    ShowError,
    did_you_mean,
    format_error,
    read_yaml,
)
from installation.control.midi.names import port_matches
from installation.params import REGISTRY

if TYPE_CHECKING:
    from installation.config.show import Show

Curve = Literal["linear", "exponential", "logarithmic"]
Takeover = Literal["none", "pickup", "scale"]
Encoder = Literal["absolute", "twos_complement", "binary_offset", "signed_bit"]
Mode = Literal["absolute", "trigger", "gate", "velocity"]
CONTROL_KEYS = ("cc", "cc14", "nrpn", "note", "pitchbend", "program")
PROFILE_GLOB = "*.midi.yaml"


class MidiMapping(Section):
    """One control -> one target. Exactly one of the control keys is given."""

    cc: int | None = Field(None, ge=0, le=127, description="7-bit control change number")
    cc14: int | None = Field(None, ge=0, le=31, description="14-bit CC: MSB number (LSB is +32)")
    nrpn: int | None = Field(None, ge=0, le=16383, description="NRPN parameter number")
    note: int | None = Field(None, ge=0, le=127)
    pitchbend: bool = False
    program: int | Literal["any"] | None = Field(None, description="program change number, or any")
    channel: int | None = Field(
        None, ge=1, le=16, description="1-16; omitted: the profile's, else any"
    )
    device: str | None = Field(None, description="only for ports whose name starts with this")
    label: str = ""
    target: str | None = None
    scene: str | None = None
    range: tuple[float, float] | None = Field(None, description="in the parameter's units")
    curve: Curve = "linear"
    invert: bool = False
    smoothing: float = Field(0.0, ge=0.0, le=60.0, description="glide time constant, seconds")
    takeover: Takeover | None = None
    encoder: Encoder = "absolute"
    step: float = Field(
        1 / 128, gt=0.0, le=1.0, description="fraction of the range per encoder tick"
    )
    mode: Mode | None = None
    bits: Literal[7, 14] = 14
    feedback: bool = False
    led_on: int = Field(127, ge=0, le=127)
    led_off: int = Field(0, ge=0, le=127)

    @model_validator(mode="after")
    def _consistent(self) -> MidiMapping:
        given = [k for k in CONTROL_KEYS if _given(getattr(self, k))]
        if len(given) != 1:
            raise ValueError(
                f"name exactly one control ({', '.join(CONTROL_KEYS)}); got {given or 'none'}"
            )
        kind = given[0]
        if kind == "program":
            if self.scene is None or self.target is not None:
                raise ValueError(
                    "a program change mapping names a scene (scene: NAME), not a target"
                )
            return self
        if self.scene is not None:
            raise ValueError("only program change mappings recall a scene")
        if self.target is None:
            raise ValueError("a target is required (a parameter or action name)")
        _check_target(self.target)
        if self.encoder != "absolute" and kind != "cc":
            raise ValueError("encoder: only a 7-bit cc can be a relative encoder")
        if self.bits != 14 and kind != "nrpn":
            raise ValueError("bits: only for nrpn")
        mode = self.mode
        if mode is not None:
            allowed = (
                ("trigger", "gate", "velocity")
                if kind == "note"
                else ("absolute", "trigger", "gate")
            )
            if mode not in allowed:
                raise ValueError(
                    f"mode {mode!r} does not fit a {kind} control (use one of {allowed})"
                )
        if self.target in REGISTRY.actions:
            if kind == "pitchbend" or self.encoder != "absolute" or mode in ("gate", "velocity"):
                raise ValueError(
                    f"{self.target!r} is an action: map it to a button (a cc or a note)"
                )
        elif self.range is not None:
            param = REGISTRY.params[self.target]
            lo, hi = self.range
            for v in (lo, hi):
                if not (param.minimum <= v <= param.maximum):
                    raise ValueError(
                        f"range {list(self.range)} leaves {self.target}'s "
                        f"{param.minimum}..{param.maximum}"
                    )
            if lo == hi:
                raise ValueError("range: the two ends must differ")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CONTROL_KEYS if _given(getattr(self, k)))


def _given(value: object) -> bool:
    # `cc: 0` is a control; `0 in (None, False)` would say it is not.
    return value is not None and value is not False


def _check_target(name: str) -> None:
    if name in REGISTRY.params or name in REGISTRY.actions:
        return
    raise ValueError(f"unknown target {name!r}{did_you_mean(name, REGISTRY.names())}")


class MidiProfile(Section):
    """A controller profile: what a device's controls do, and which ports it fits."""

    name: str
    description: str = ""
    match: list[str] = Field(
        default_factory=list, description='port name prefixes; "*" = any (fallback)'
    )
    channel: int | None = Field(None, ge=1, le=16)
    output: str | None = Field(
        None, description="feedback port prefix when it differs from the input's"
    )
    takeover: Takeover | None = None
    mappings: list[MidiMapping] = Field(default_factory=list)


class MidiDevice(Section):
    port: str = Field(description='a port name prefix, or "all"')
    profile: str = Field("auto", description="auto | none | a profile name or file")
    output: str | None = None
    feedback: bool = True


class MidiReplay(Section):
    file: str
    name: str | None = None
    profile: str = "auto"
    loop: bool = False
    speed: float = Field(1.0, gt=0.0, le=100.0)


class MidiConfig(Section):
    enabled: bool = True
    api: Literal["auto", "alsa", "jack"] = "auto"
    devices: list[MidiDevice] = Field(default_factory=lambda: [MidiDevice(port="all")])
    profiles_dir: str = "controllers"
    mappings: list[MidiMapping] = Field(default_factory=list)
    takeover: Takeover = "pickup"
    learn_file: str = "controllers/learned.midi.yaml"
    clock: bool = True
    sysex: bool = Field(False, description="let SysEx reach the show (it is only counted)")
    poll_s: float = Field(1.0, ge=0.1, le=10.0, description="how often ports are looked for")
    replay: list[MidiReplay] = Field(default_factory=list)


# -- loading profiles ----------------------------------------------------------------------
class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class LoadedProfile:
    path: Path
    profile: MidiProfile

    @property
    def stem(self) -> str:
        return self.path.name.removesuffix(".midi.yaml")


def parse_profile(
    data: Any, source: str = "profile", lines: Mapping[tuple, int] | None = None
) -> MidiProfile:
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: the top level must be a mapping (name:, match:, mappings:)")
    try:
        return MidiProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(
            "\n".join(_format(e, source, lines or {}) for e in exc.errors())
        ) from None


def load_profile(path: Path) -> LoadedProfile:
    try:
        data, lines = read_yaml(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    return LoadedProfile(path, parse_profile(data, str(path), lines))


def _format(err: Mapping[str, Any], source: str, lines: KeyLines) -> str:
    def fields_at(loc: tuple) -> list[str]:
        model = MidiMapping if len(loc) >= 3 and loc[0] == "mappings" else MidiProfile
        return list(model.model_fields)

    return format_error(err, source, lines, fields_at, show_input=False)


def discover_profiles(folder: Path) -> list[LoadedProfile]:
    """Every `*.midi.yaml` in `folder`, validated (the first bad one raises ProfileError)."""
    if not folder.is_dir():
        return []
    return [load_profile(p) for p in sorted(folder.glob(PROFILE_GLOB))]


def find_profile(profiles: list[LoadedProfile], ref: str, base: Path) -> LoadedProfile | None:
    """A profile by its name, file stem or path (relative to `base`)."""
    for p in profiles:
        if ref in (p.profile.name, p.stem, p.path.name):
            return p
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else base / path
    return load_profile(path) if path.is_file() else None


def match_profile(profiles: list[LoadedProfile], port: str) -> LoadedProfile | None:
    """The profile whose `match` fits this port best: the longest prefix, "*" last."""
    best: tuple[int, LoadedProfile] | None = None
    for p in profiles:
        for pattern in p.profile.match:
            score = 0 if pattern == "*" else len(pattern)
            if port_matches(port, pattern) and (best is None or score > best[0]):
                best = (score, p)
    return best[1] if best else None


# -- the show-level check ------------------------------------------------------------------
@dataclass(frozen=True)
class MidiSetup:
    """Everything the MIDI service reads from disk, loaded and checked once."""

    profiles: list[LoadedProfile]
    learned: LoadedProfile | None
    learn_path: Path


def load_setup(show: Show) -> MidiSetup:
    """Load and check the show's profiles, learned file, scenes and replay files.

    Raises ShowError naming the file and key, so `installation run` and `check` exit 2
    before a window opens.
    """
    cfg = show.midi
    try:
        profiles = discover_profiles(show.resolve(cfg.profiles_dir))
        learn_path = show.resolve(cfg.learn_file)
        learned = load_profile(learn_path) if learn_path.is_file() else None
        for dev in cfg.devices:
            if (
                dev.profile not in ("auto", "none")
                and find_profile(profiles, dev.profile, show.base_dir) is None
            ):
                raise ShowError(
                    f"midi.devices: no profile {dev.profile!r} in {cfg.profiles_dir}/ "
                    f"(known: {', '.join(sorted(p.stem for p in profiles)) or 'none'})"
                )
    except ProfileError as exc:
        raise ShowError(str(exc)) from None
    all_mappings = [
        *cfg.mappings,
        *(m for p in profiles for m in p.profile.mappings),
        *(learned.profile.mappings if learned else []),
    ]
    for m in all_mappings:
        if m.scene is not None and m.scene not in show.scenes:
            raise ShowError(
                f"midi: program {m.program} recalls scene {m.scene!r}, which show.yaml's "
                f"scenes: does not define (known: {', '.join(show.scenes) or 'none'})"
            )
    for r in cfg.replay:
        _check_midi_file(show.resolve(r.file))
    return MidiSetup(profiles, learned, learn_path)


def _check_midi_file(path: Path) -> None:
    import mido  # here, not at the top: the show's schema loads without a MIDI library

    try:
        mido.MidiFile(path)
    except FileNotFoundError:
        raise ShowError(f"midi.replay: {path}: no such file") from None
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise ShowError(f"midi.replay: {path}: not a readable MIDI file ({exc})") from None
