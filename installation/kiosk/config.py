"""The `kiosk:` section of show.yaml: supervision, saved state, frame guard, health, logs."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt

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
    health: HealthConfig = HealthConfig()
    log: LogConfig = LogConfig()
