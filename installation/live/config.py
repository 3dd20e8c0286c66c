"""The live sections of show.yaml: `hotswap:` (watching folders, validating, swapping new
checkpoints in) and `training:` (a background trainer that learns while the show plays)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from installation.config.base import Section


class HotswapConfig(Section):
    """New checkpoints swapped into the running show (see docs/hotswap.md)."""

    enabled: bool = Field(
        True,
        description="watch the model folder, training.out and `watch`; swap new checkpoints in",
    )
    watch: list[str] = Field(
        default_factory=list,
        description="extra folders to watch: model folders, or folders of model folders (rsync/scp drops)",
    )
    poll_s: float = Field(0.5, gt=0, le=60, description="seconds between looks at the folders")
    stable_polls: int = Field(
        2, ge=1, le=100, description="looks in a row a file must be unchanged before it is read"
    )
    give_up_s: float = Field(
        10.0,
        gt=0,
        description="a stable pair whose hash never matches the card is rejected after this",
    )
    burst_s: float = Field(
        5.0,
        ge=0,
        description="while more checkpoints keep arriving, wait up to this for the newest",
    )
    crossfade_s: float = Field(
        2.0, ge=0, le=60, description="seconds of crossfade from the old model to the new one"
    )
    history: int = Field(
        4, ge=1, le=32, description="models kept in memory to step back to (B key, /model/previous)"
    )
    min_diversity: float = Field(
        1.0,
        ge=0,
        le=255,
        description="collapse check: different latents' pictures must differ by this many gray levels on average",
    )


class TrainingConfig(Section):
    """A background trainer that learns while the show plays (see docs/hotswap.md)."""

    enabled: bool = Field(
        False, description="run `installation train` as a low-priority child process of the show"
    )
    architecture: Literal["gan", "vae", "mlp", "fewshot"] = Field(
        "gan",
        description="what to train (installation train --arch); fewshot: the artist's 100-1000 images",
    )
    dataset: str = Field(
        "synthetic:shapes",
        description="a folder of images (relative to the show file), or synthetic:shapes",
    )
    resolution: PositiveInt | None = Field(
        None,
        description="image size in pixels; default per architecture: 64, fewshot 256 (or the show's few-shot model's size, for transfer), mlp 28",
    )
    batch: PositiveInt | None = Field(None, description="images per step; default 16, fewshot 8")
    transfer: bool = Field(
        True,
        description="fewshot: a new run starts from the show's model when it has the same shape (first swap in minutes)",
    )
    steps: PositiveInt = Field(
        100_000, description="the trainer ends at this step; the show plays on"
    )
    save_every: PositiveInt = Field(
        200, description="steps between checkpoints; each is a candidate swap"
    )
    keep: PositiveInt = Field(5, description="older checkpoints kept under out/checkpoints/")
    out: str = Field(
        "models/live", description="model folder it writes (resumed next time); always watched"
    )
    # How much of the machine training may take: CPU threads, OS priority (19 = only idle
    # time), and the share of wall time it may run at all (paused the rest, 1.0 = no limit).
    threads: PositiveInt = Field(
        1, description="CPU threads for training; the render loop keeps the other cores"
    )
    nice: int = Field(
        19,
        ge=0,
        le=19,
        description="OS priority of the trainer: 19 gets only what the show leaves over",
    )
    cpu_share: float = Field(
        1.0,
        gt=0,
        le=1,
        description="share of wall time it may run at all (< 1: duty-cycled by SIGSTOP)",
    )
    device: Literal["auto", "cpu"] = Field("auto", description="cpu hides GPUs from the trainer")
    extra_args: list[str] = Field(
        default_factory=list, description="more `installation train` flags, e.g. [--loss, hinge]"
    )
