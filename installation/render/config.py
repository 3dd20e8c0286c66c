"""The render sections of show.yaml: `display:` (window, frame rate, filter, pipeline) and
`model:` (which checkpoint, on which device, at what precision)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from installation.config.base import Section

# The largest side of an output: 16K. SDL's own texture limit is often 16384, and a frame
# bigger than any screen would only eat memory (100000x100000 ran, with a pygame warning).
MAX_SIDE = 16384
Side = Annotated[int, Field(gt=0, le=MAX_SIDE)]


class UpscaleConfig(Section):
    model: str = Field(
        description="a learned upscaler's folder (installation train --arch sr), relative to the show file"
    )


class DisplayConfig(Section):
    enabled: bool = Field(
        True, description="false: no window, the show only sends to its outputs (a headless server)"
    )
    size: tuple[Side, Side] | Literal["desktop"] = Field(
        (1920, 1080),
        description=f'output size [width, height] in pixels (at most {MAX_SIDE}), or "desktop" for the monitor\'s own',
    )
    fullscreen: bool = Field(
        True, description="full screen (--windowed overrides it for a rehearsal)"
    )
    display: int = Field(
        0, ge=0, description="which monitor, 0 is the primary (`installation devices` lists them)"
    )
    vsync: bool = Field(
        True, description="wait for the monitor's refresh where the platform allows it"
    )
    fps: float = Field(
        60, ge=0, le=1000, description="frame-rate cap; 0 = as fast as the generator goes"
    )
    filter: Literal["nearest", "bilinear", "bicubic"] = Field(
        "bilinear", description="upscaling filter; bicubic runs on the GPU (bilinear on a CPU)"
    )
    fit: Literal["cover", "contain", "stretch"] = Field(
        "cover", description="cover: crop to fill the screen; contain: letterbox; stretch"
    )
    hud: bool = Field(False, description="start with the heads-up display on (H toggles it)")
    pipeline: Literal["auto", "on", "off"] = Field(
        "auto", description="overlap generation with display: auto = only when uncapped (fps 0)"
    )
    screenshots: str = Field(
        "screenshots", description="folder for S-key screenshots, relative to the show file"
    )
    upscale: UpscaleConfig | None = Field(
        None,
        description="a learned x2/x4 upscaler between the generator and the display, e.g. {model: models/NAME-sr}",
    )


class ModelConfig(Section):
    path: str = Field(
        "models/default-flow",
        description="model folder (model.safetensors + card.json), relative to the show file",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="auto picks cuda, then mps, then cpu"
    )
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="auto: fp16 on CUDA, fp32 elsewhere"
    )
    threads: int | Literal["auto"] = Field(
        "auto",
        description="CPU threads for generating a frame; auto: 1 (torch's threads stall whenever anything else wants a core)",
    )

    @field_validator("threads")
    @classmethod
    def _thread_count(cls, threads: int | str) -> int | str:
        if threads != "auto" and not 1 <= int(threads) <= 256:
            raise ValueError("threads must be auto or a whole number from 1 to 256")
        return threads
