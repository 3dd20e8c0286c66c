"""show.yaml's `performance:` section: scenes, morphs, tempo grid, envelope followers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from installation.config.base import Section, did_you_mean
from installation.params import REGISTRY


class EnvelopeConfig(Section):
    """An envelope follower: a value that comes in (an OSC or MIDI mapping onto signal.N)
    pushes a parameter, rising with `attack` and falling with `release`."""

    input: str = Field(description="the parameter the value arrives on, e.g. signal.1")
    target: str = Field(description="the parameter it pushes, e.g. jitter.amount")
    attack: float = Field(0.01, ge=0.0, le=10.0, description="seconds to rise (time constant)")
    release: float = Field(0.25, ge=0.0, le=30.0, description="seconds to fall (time constant)")
    gain: float = Field(
        1.0, ge=0.0, le=100.0, description="multiplies the input above the threshold"
    )
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="inputs below this count as silence")
    output: tuple[float, float] | None = Field(
        None, description="target range for 0..1 of the envelope; default its whole range"
    )

    @model_validator(mode="after")
    def _known(self) -> EnvelopeConfig:
        for key in ("input", "target"):
            name = getattr(self, key)
            if name not in REGISTRY.params:
                raise ValueError(
                    f"{key}: unknown parameter {name!r}{did_you_mean(name, list(REGISTRY.params))}"
                )
        if self.input == self.target:
            raise ValueError("input and target must be different parameters")
        return self


class AudioConfig(Section):
    enabled: bool = Field(
        False,
        description="levels of a local sound input on signal.1..4 (pip install 'installation[audio]')",
    )
    device: str | int | None = Field(
        None, description="an input device name or number; default: the system's"
    )
    samplerate: int = Field(48_000, ge=8_000, le=192_000)
    block: int = Field(
        1024, ge=64, le=16_384, description="samples per analysis (1024 at 48 kHz: 47 a second)"
    )


class PerformanceConfig(Section):
    scene_file: str = Field(
        "scenes.yaml", description="where scenes and keyframes are kept, relative to the show"
    )
    morph_s: float = Field(
        4.0,
        ge=0.0,
        le=60.0,
        description="seconds a scene recall morphs (start value of morph.time)",
    )
    quantize: Literal["none", "beat", "bar"] = Field(
        "bar", description="with a known tempo a morph ends on the next beat or bar"
    )
    beats_per_bar: int = Field(4, ge=1, le=32)
    loop_spline: bool = Field(
        False, description="loops through keyframes as a smooth spline instead of a slerp chain"
    )
    envelopes: list[EnvelopeConfig] = Field(default_factory=list)
    audio: AudioConfig = AudioConfig()
    link: bool = Field(
        False,
        description="join an Ableton Link session for tempo and beat (pip install 'installation[link]')",
    )
