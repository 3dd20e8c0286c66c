"""show.yaml: the schema of a show, its loading, and precise errors.

Each section's schema lives with the subsystem that owns it (render/config.py,
control/osc/config.py, control/midi/config.py, live/config.py) and builds on config/base.py;
this module assembles them.

Every section forbids unknown keys, so a typo is an error that names the key, its line and
the nearest valid spelling, and the show exits (code 2) before any window opens or port is
bound. Config can come from any mapping (tests pass dicts), like starlette's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from installation.config.base import (
    Section,
    ShowError,
    did_you_mean,
    fields_along,
    format_error,
    read_yaml,
)
from installation.control.midi.config import MidiConfig, load_setup
from installation.control.osc.config import OscConfig
from installation.instruments.config import PerformanceConfig
from installation.kiosk.config import KioskConfig
from installation.live.config import HotswapConfig, TrainingConfig
from installation.params import REGISTRY
from installation.render.config import DisplayConfig, ModelConfig
from installation.render.outputs.config import (
    OutputConfig,
    check_unique_names,
    output_fields,
    tidy_error,
)


class NavigatorConfig(Section):
    mode: Literal["keyframes", "ou"] = Field(
        "keyframes",
        description="keyframes: slerp between seeded keyframes; ou: a wandering noise walk",
    )
    easing: Literal["smooth", "linear"] = Field(
        "smooth", description="smooth: ease in and out of each keyframe; linear: constant pace"
    )
    seed: int = Field(0, ge=0, description="the same seed walks the same path")
    speed: float = Field(
        REGISTRY.params["walk.speed"].default,
        ge=-2.0,
        le=2.0,
        description="keyframes per second, the start value of walk.speed",
    )
    truncation: float = Field(
        REGISTRY.params["latent.truncation"].default,
        ge=0.0,
        le=2.0,
        description="latent scale, the start value of latent.truncation",
    )


class ParameterSettings(Section):
    default: float | None = Field(None, description="start value, within the parameter's range")
    smoothing: float | None = Field(
        None, ge=0.0, le=60.0, description="slew time constant in seconds; 0 = instant"
    )


class Show(Section):
    display: DisplayConfig = DisplayConfig()
    model: ModelConfig = ModelConfig()
    navigator: NavigatorConfig = NavigatorConfig()
    hotswap: HotswapConfig = HotswapConfig()
    training: TrainingConfig = TrainingConfig()
    parameters: dict[str, ParameterSettings] = Field(
        default_factory=dict,
        description="per-parameter settings by registry name (see the parameter table)",
    )
    osc: OscConfig = OscConfig()
    # A scene is a named set of parameter targets, recalled at once (MIDI program change).
    scenes: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="named sets of parameter targets, e.g. `calm: {walk.speed: 0.1}`",
    )
    midi: MidiConfig = MidiConfig()
    outputs: list[OutputConfig] = Field(
        default_factory=list,
        description="video outputs besides the window: ndi, syphon, spout, virtualcam, file",
    )
    performance: PerformanceConfig = PerformanceConfig()
    kiosk: KioskConfig = KioskConfig()
    # Where relative paths in the show are resolved from: the show file's folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("parameters")
    @classmethod
    def _known_parameters(
        cls, parameters: dict[str, ParameterSettings]
    ) -> dict[str, ParameterSettings]:
        for name, settings in parameters.items():
            if name not in REGISTRY.params:
                hint = did_you_mean(name, list(REGISTRY.params))
                raise ValueError(f"unknown parameter {name!r}{hint}")
            param = REGISTRY.params[name]
            if settings.default is not None and not (
                param.minimum <= settings.default <= param.maximum
            ):
                raise ValueError(
                    f"parameters.{name}.default {settings.default} is outside {param.minimum}..{param.maximum}"
                )
            if name in ("walk.speed", "latent.truncation") and settings.default is not None:
                raise ValueError(f"set the default of {name} under navigator:, not parameters:")
        return parameters

    @field_validator("scenes")
    @classmethod
    def _known_scene_parameters(
        cls, scenes: dict[str, dict[str, float]]
    ) -> dict[str, dict[str, float]]:
        for scene, values in scenes.items():
            for name, value in values.items():
                param = REGISTRY.params.get(name)
                if param is None:
                    raise ValueError(
                        f"scene {scene!r}: unknown parameter {name!r}{did_you_mean(name, list(REGISTRY.params))}"
                    )
                if not (param.minimum <= value <= param.maximum):
                    raise ValueError(
                        f"scene {scene!r}: {name} {value} is outside {param.minimum}..{param.maximum}"
                    )
        return scenes

    @field_validator("outputs")
    @classmethod
    def _unique_outputs(cls, outputs: list) -> list:
        return check_unique_names(outputs)

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
            "morph.time": {"default": self.performance.morph_s},
        }
        for name, settings in self.parameters.items():
            out.setdefault(name, {}).update(settings.model_dump(exclude_none=True))
        return out


def _section_fields(data: Mapping[str, Any]):
    def fields_at(loc: tuple) -> list[str]:
        if loc[0] == "outputs" and len(loc) == 3 and isinstance(data.get("outputs"), list):
            return output_fields(loc, data["outputs"][loc[1]])
        return fields_along(Show, loc)

    return fields_at


def parse_show(
    data: Mapping[str, Any] | None,
    source: str = "show",
    base_dir: Path = Path("."),
    lines: Mapping[tuple, int] | None = None,
) -> Show:
    try:
        return Show.model_validate({**(data or {}), "base_dir": base_dir})
    except ValidationError as exc:
        fields_at = _section_fields(data or {})
        messages = [
            format_error(tidy_error(e), source, lines or {}, fields_at) for e in exc.errors()
        ]
        raise ShowError("\n".join(messages)) from None


def load_show(path: Path | str) -> Show:
    path = Path(path)
    try:
        data, lines = read_yaml(path)
    except FileNotFoundError:
        raise ShowError(
            f"{path}: no such show file (copy show.yaml from the top of the installation's "
            "source folder, the default show, and edit it)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ShowError(f"{path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise ShowError(f"{path}: not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ShowError(
            f"{path}: the top level must be a mapping of sections (display:, model:, ...)"
        )
    if data and "base_dir" in data:
        raise ShowError(f"{path}:{lines.get(('base_dir',), '?')}: base_dir: unknown key")
    return parse_show(data, str(path), path.parent, lines)


__all__ = [
    "DisplayConfig",
    "HotswapConfig",
    "ModelConfig",
    "NavigatorConfig",
    "OscConfig",
    "MidiConfig",
    "ParameterSettings",
    "PerformanceConfig",
    "Show",
    "ShowError",
    "TrainingConfig",
    "load_show",
    "parse_show",
]
