"""The `kiosk:` section of show.yaml: supervision, saved state, frame guard, health, logs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from installation.config.base import Section


class HealthConfig(Section):
    """A small HTTP endpoint for remote eyes: /health, /screenshot.png, /log."""

    enabled: bool = Field(False, description="serve /health, /screenshot.png and /log over HTTP")
    host: str = Field(
        "127.0.0.1", description="127.0.0.1: this machine only; 0.0.0.0 opens it to the network"
    )
    port: int = Field(8770, ge=0, le=65535, description="TCP port (0: any free one, logged)")
    token: str | None = Field(
        None, description="when set, requests need ?token=... or an `Authorization: Bearer` header"
    )


class LogConfig(Section):
    """The show's log file: written by a background thread, rotated, repeats folded."""

    file: str | None = Field(
        "logs/installation.log",
        description="rotating log file, relative to the show file; null: none",
    )
    max_mb: PositiveFloat = Field(10, description="rotate when the file reaches this size")
    backups: int = Field(5, ge=0, le=100, description="rotated files kept")


class AttractConfig(Section):
    """An autonomous tour when nobody has touched a control for a while."""

    after_min: PositiveFloat | None = Field(
        None, description="minutes without input before the tour starts; null: never"
    )
    scene_s: PositiveFloat = Field(
        60.0, description="seconds on each scene of the tour (the show's scenes, in order)"
    )
    speed: float = Field(
        0.2, gt=0, le=2, description="the least walk speed (keyframes/s) while touring"
    )


class ScheduleConfig(Section):
    """Show hours: fade in at opening, fade out at closing, blank or dim in between."""

    hours: list[tuple[str, str]] = Field(
        default_factory=list,
        description='opening and closing times, e.g. [["10:00", "18:00"]]; empty: always on',
    )
    fade_s: float = Field(
        30.0, ge=0, le=3600, description="seconds of fade at opening and at closing"
    )
    outside: Literal["blank", "dim"] = Field(
        "blank", description="what the screen shows outside the hours"
    )
    dim: float = Field(
        0.15, ge=0, le=1, description="brightness outside the hours when outside is dim"
    )
    idle_fps: float = Field(
        2.0, gt=0, le=60, description="frame rate outside the hours (the trainer gets the machine)"
    )
    restart_at: str | None = Field(
        None, description='a daily restart under --kiosk at this time, e.g. "04:30"'
    )
    training_threads: PositiveInt | None = Field(
        None,
        description="the trainer's CPU threads outside the hours (no duty cycle then); null: every core",
    )

    @field_validator("hours")
    @classmethod
    def _times(cls, hours: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for pair in hours:
            for t in pair:
                parse_hhmm(t)
        return hours

    @field_validator("restart_at")
    @classmethod
    def _restart(cls, t: str | None) -> str | None:
        if t is not None:
            parse_hhmm(t)
        return t


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of "HH:MM"; a ValueError that says the format."""
    try:
        h, m = (int(v) for v in text.split(":"))
        if not (0 <= h <= 24 and 0 <= m < 60) or h * 60 + m > 24 * 60:
            raise ValueError
    except ValueError:
        raise ValueError(f"{text!r} is not a time like 09:30") from None
    return h * 60 + m


class KioskConfig(Section):
    """How `installation run --kiosk` keeps the show going unattended."""

    state_dir: str = Field(
        ".kiosk", description="folder for the saved state (state.json), relative to the show file"
    )
    save_every_s: PositiveFloat = Field(
        3.0, description="seconds between saves of model, scene and parameter state"
    )
    stall_s: PositiveFloat = Field(
        2.0,
        description="a frame slower than this, or render errors this long: recover inside the show",
    )
    wedged_s: PositiveFloat = Field(
        10.0, description="no heartbeat for this long: the supervisor kills and restarts the show"
    )
    start_timeout_s: PositiveFloat = Field(
        120.0, description="how long a starting show may take to its first frame"
    )
    restarts: PositiveInt = Field(
        5, description="restarts allowed within restart_window_min before the next fallback"
    )
    restart_window_min: PositiveFloat = Field(
        10.0, description="the window the restart budget counts in"
    )
    standby: bool = Field(
        True, description="keep a warm spare process (imports done) so a restart takes seconds"
    )
    good_after_s: PositiveFloat = Field(
        30.0, description="a model that played this long with clean frames is the last known good"
    )
    black_s: PositiveFloat = Field(
        10.0, description="all-black frames this long while the model should draw count as bad"
    )
    reload: bool = Field(
        True, description="apply valid edits of the show file live; reject invalid ones on the HUD"
    )
    heap_trim_s: float | None = Field(
        60.0,
        gt=0,
        description="under --kiosk, give freed heap back to the system this often (glibc "
        "malloc_trim; docs/soak.md); null: never",
    )
    attract: AttractConfig = AttractConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    health: HealthConfig = HealthConfig()
    log: LogConfig = LogConfig()
