"""show.yaml: the schema of a show, its loading, and precise errors.

Every section forbids unknown keys, so a typo is an error that names the key, its line and
the nearest valid spelling, and the show exits (code 2) before any window opens or port is
bound. Config can come from any mapping (tests pass dicts), like starlette's.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from installation.control.midi_config import MidiConfig, load_setup
from installation.control.osc_config import OscConfig
from installation.params import REGISTRY


class ShowError(Exception):
    """A show file that cannot be played; the message names the key and what to do."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DisplayConfig(Section):
    size: tuple[PositiveInt, PositiveInt] | Literal["desktop"] = Field(
        (1920, 1080), description='output size [width, height] in pixels, or "desktop" for the monitor\'s own')
    fullscreen: bool = Field(True, description="full screen (--windowed overrides it for a rehearsal)")
    display: int = Field(0, ge=0, description="which monitor, 0 is the primary (`installation devices` lists them)")
    vsync: bool = Field(True, description="wait for the monitor's refresh where the platform allows it")
    fps: float = Field(60, ge=0, le=1000, description="frame-rate cap; 0 = as fast as the generator goes")
    filter: Literal["nearest", "bilinear", "bicubic"] = Field(
        "bilinear", description="upscaling filter; bicubic runs on the GPU (bilinear on a CPU)")
    fit: Literal["cover", "contain", "stretch"] = Field(
        "cover", description="cover: crop to fill the screen; contain: letterbox; stretch")
    hud: bool = Field(False, description="start with the heads-up display on (H toggles it)")
    pipeline: Literal["auto", "on", "off"] = Field(
        "auto", description="overlap generation with display: auto = only when uncapped (fps 0)")
    screenshots: str = Field("screenshots", description="folder for S-key screenshots, relative to the show file")


class ModelConfig(Section):
    path: str = Field("models/default-gan", description="model folder (model.safetensors + card.json), relative to the show file")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto picks cuda, then mps, then cpu")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="auto: fp16 on CUDA, fp32 elsewhere")
    threads: int | Literal["auto"] = Field(
        "auto",
        description="CPU threads for generating a frame; auto: 1 (torch's threads stall whenever anything else wants a core)")


    @field_validator("threads")
    @classmethod
    def _thread_count(cls, threads: int | str) -> int | str:
        if threads != "auto" and not 1 <= int(threads) <= 256:
            raise ValueError("threads must be auto or a whole number from 1 to 256")
        return threads


class NavigatorConfig(Section):
    mode: Literal["keyframes", "ou"] = Field(
        "keyframes", description="keyframes: slerp between seeded keyframes; ou: a wandering noise walk")
    easing: Literal["smooth", "linear"] = Field(
        "smooth", description="smooth: ease in and out of each keyframe; linear: constant pace")
    seed: int = Field(0, ge=0, description="the same seed walks the same path")
    speed: float = Field(REGISTRY.params["walk.speed"].default, ge=-2.0, le=2.0,
                         description="keyframes per second, the start value of walk.speed")
    truncation: float = Field(REGISTRY.params["latent.truncation"].default, ge=0.0, le=2.0,
                              description="latent scale, the start value of latent.truncation")


class HotswapConfig(Section):
    """New checkpoints swapped into the running show (see docs/hotswap.md)."""

    enabled: bool = Field(True, description="watch the model folder, training.out and `watch`; swap new checkpoints in")
    watch: list[str] = Field(
        default_factory=list,
        description="extra folders to watch: model folders, or folders of model folders (rsync/scp drops)")
    poll_s: float = Field(0.5, gt=0, le=60, description="seconds between looks at the folders")
    stable_polls: int = Field(2, ge=1, le=100, description="looks in a row a file must be unchanged before it is read")
    give_up_s: float = Field(10.0, gt=0, description="a stable pair whose hash never matches the card is rejected after this")
    burst_s: float = Field(5.0, ge=0, description="while more checkpoints keep arriving, wait up to this for the newest")
    crossfade_s: float = Field(2.0, ge=0, le=60, description="seconds of crossfade from the old model to the new one")
    history: int = Field(4, ge=1, le=32, description="models kept in memory to step back to (B key, /model/previous)")
    min_diversity: float = Field(
        1.0, ge=0, le=255,
        description="collapse check: different latents' pictures must differ by this many gray levels on average")


class TrainingConfig(Section):
    """A background trainer that learns while the show plays (see docs/hotswap.md)."""

    enabled: bool = Field(False, description="run `installation train` as a low-priority child process of the show")
    architecture: Literal["gan", "vae", "mlp"] = Field("gan", description="what to train (installation train --arch)")
    dataset: str = Field("synthetic:shapes", description="a folder of images (relative to the show file), or synthetic:shapes")
    resolution: PositiveInt = Field(64, description="image size in pixels (mlp: 28)")
    batch: PositiveInt = Field(16, description="images per step")
    steps: PositiveInt = Field(100_000, description="the trainer ends at this step; the show plays on")
    save_every: PositiveInt = Field(200, description="steps between checkpoints; each is a candidate swap")
    keep: PositiveInt = Field(5, description="older checkpoints kept under out/checkpoints/")
    out: str = Field("models/live", description="model folder it writes (resumed next time); always watched")
    # How much of the machine training may take: CPU threads, OS priority (19 = only idle
    # time), and the share of wall time it may run at all (paused the rest, 1.0 = no limit).
    threads: PositiveInt = Field(1, description="CPU threads for training; the render loop keeps the other cores")
    nice: int = Field(19, ge=0, le=19, description="OS priority of the trainer: 19 gets only what the show leaves over")
    cpu_share: float = Field(1.0, gt=0, le=1, description="share of wall time it may run at all (< 1: duty-cycled by SIGSTOP)")
    device: Literal["auto", "cpu"] = Field("auto", description="cpu hides GPUs from the trainer")
    extra_args: list[str] = Field(default_factory=list, description="more `installation train` flags, e.g. [--loss, hinge]")


class ParameterSettings(Section):
    default: float | None = Field(None, description="start value, within the parameter's range")
    smoothing: float | None = Field(None, ge=0.0, le=60.0, description="slew time constant in seconds; 0 = instant")


class Show(Section):
    display: DisplayConfig = DisplayConfig()
    model: ModelConfig = ModelConfig()
    navigator: NavigatorConfig = NavigatorConfig()
    hotswap: HotswapConfig = HotswapConfig()
    training: TrainingConfig = TrainingConfig()
    parameters: dict[str, ParameterSettings] = Field(
        default_factory=dict, description="per-parameter settings by registry name (see the parameter table)")
    osc: OscConfig = OscConfig()
    # A scene is a named set of parameter targets, recalled at once (MIDI program change).
    scenes: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="named sets of parameter targets, e.g. `calm: {walk.speed: 0.1}`")
    midi: MidiConfig = MidiConfig()
    # Where relative paths in the show are resolved from: the show file's folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, parameters: dict[str, ParameterSettings]) -> dict[str, ParameterSettings]:
        for name, settings in parameters.items():
            if name not in REGISTRY.params:
                hint = _did_you_mean(name, list(REGISTRY.params))
                raise ValueError(f"unknown parameter {name!r}{hint}")
            param = REGISTRY.params[name]
            if settings.default is not None and not (param.minimum <= settings.default <= param.maximum):
                raise ValueError(
                    f"parameters.{name}.default {settings.default} is outside {param.minimum}..{param.maximum}"
                )
            if name in ("walk.speed", "latent.truncation") and settings.default is not None:
                raise ValueError(f"set the default of {name} under navigator:, not parameters:")
        return parameters

    @field_validator("scenes")
    @classmethod
    def _known_scene_parameters(cls, scenes: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for scene, values in scenes.items():
            for name, value in values.items():
                param = REGISTRY.params.get(name)
                if param is None:
                    raise ValueError(f"scene {scene!r}: unknown parameter {name!r}{_did_you_mean(name, list(REGISTRY.params))}")
                if not (param.minimum <= value <= param.maximum):
                    raise ValueError(f"scene {scene!r}: {name} {value} is outside {param.minimum}..{param.maximum}")
        return scenes

    @model_validator(mode="after")
    def _midi_files(self) -> Show:
        if self.midi.enabled:
            load_setup(self)  # profiles, learned mappings, scenes they name, replay files
        return self

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def param_overrides(self) -> dict[str, dict[str, float]]:
        """Registry overrides: navigator defaults plus each parameter's settings."""
        out: dict[str, dict[str, float]] = {
            "walk.speed": {"default": self.navigator.speed},
            "latent.truncation": {"default": self.navigator.truncation},
            "hud.visible": {"default": 1.0 if self.display.hud else 0.0},
        }
        for name, settings in self.parameters.items():
            out.setdefault(name, {}).update(settings.model_dump(exclude_none=True))
        return out


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _key_lines(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path in a YAML node tree to its 1-based line number."""
    lines: dict[tuple, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines[sub] = key.start_mark.line + 1
            lines.update({k: v for k, v in _key_lines(value, sub).items() if k != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_key_lines(item, (*path, i)))
    return lines


def _section_fields(loc: tuple) -> list[str]:
    """The valid keys at the place of an unknown key, for a did-you-mean hint."""
    model: Any = Show
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
    return [f for f in getattr(model, "model_fields", {}) if f != "base_dir"]


def _format_error(err: Mapping[str, Any], source: str, lines: Mapping[tuple, int]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tuple["))))
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), None)
    where = f"{source}:{line}" if line else source
    if err["type"] == "extra_forbidden":
        hint = _did_you_mean(str(loc[-1]), _section_fields(loc))
        return f"{where}: {key}: unknown key{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {key}: {msg} (got {err.get('input')!r})" if "input" in err and not isinstance(
        err.get("input"), dict) else f"{where}: {key}: {msg}"


def parse_show(data: Mapping[str, Any] | None, source: str = "show", base_dir: Path = Path("."),
               lines: Mapping[tuple, int] | None = None) -> Show:
    try:
        return Show.model_validate({**(data or {}), "base_dir": base_dir})
    except ValidationError as exc:
        messages = [_format_error(e, source, lines or {}) for e in exc.errors()]
        raise ShowError("\n".join(messages)) from None


def load_show(path: Path | str) -> Show:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShowError(f"{path}: no such show file (create one, or copy the README's example)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ShowError(f"{path}: cannot read it ({exc})") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ShowError(f"{path}: not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ShowError(f"{path}: the top level must be a mapping of sections (display:, model:, ...)")
    lines = _key_lines(node) if node is not None else {}
    if data and "base_dir" in data:
        raise ShowError(f"{path}:{lines.get(('base_dir',), '?')}: base_dir: unknown key")
    return parse_show(data, str(path), path.parent, lines)
