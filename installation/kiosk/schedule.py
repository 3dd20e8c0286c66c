"""Show hours: fade in at opening, fade out at closing, blank or dim outside, and a daily
restart at a quiet hour (under `--kiosk`).

`level(minute, config)` is pure (minute of the day, with seconds as a fraction); the frame
task `Schedule.apply` sets the loop's dimmer from the wall clock every frame (so fades are
smooth), and outside the hours drops the frame rate to `idle_fps` so a trainer gets the
machine. Hours may span midnight ("20:00"-"02:00"). Each change between inside and outside
(and the first look) is told to the `on_hours` hooks: the live trainer's supervisor then
gives training every core and no duty cycle outside, its show share inside
(live/trainer.py `schedule_share`).

The daily restart ends the show with EXIT_RESTART; the supervisor starts it again into its
saved state at once, and does not count it as a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from installation.kiosk.config import ScheduleConfig, parse_hhmm

if TYPE_CHECKING:
    from installation.render.loop import RenderLoop

log = logging.getLogger(__name__)

DAY = 24 * 60
EXIT_RESTART = 75  # EX_TEMPFAIL: "run me again", the supervisor's cue for a planned restart
MIN_UPTIME_S = 120.0  # a show started just before the restart time does not restart again


def _since(start: float, now: float) -> float:
    return (now - start) % DAY


def level(minute: float, config: ScheduleConfig) -> tuple[float, bool]:
    """(brightness factor 0..1, whether inside show hours) at `minute` of the day."""
    if not config.hours:
        return 1.0, True
    low = config.dim if config.outside == "dim" else 0.0
    fade = config.fade_s / 60
    best = low
    inside = False
    for opening, closing in config.hours:
        start, end = parse_hhmm(opening), parse_hhmm(closing)
        length = _since(start, end) or DAY
        into = _since(start, minute)
        if into >= length:
            continue
        inside = True
        left = length - into
        ramp = min(1.0, into / fade if fade else 1.0, left / fade if fade else 1.0)
        best = max(best, low + (1.0 - low) * ramp)
    return best, inside


class Schedule:
    def __init__(
        self,
        config: ScheduleConfig,
        *,
        restart: bool,
        wall: Callable[[], datetime] = datetime.now,
        on_hours: Sequence[Callable[[bool], None]] = (),
    ) -> None:
        self.config, self.restart, self.wall = config, restart, wall
        self.on_hours = tuple(on_hours)
        self.inside: bool | None = None
        self._fps: float | None = None
        self._restart_minute = parse_hhmm(config.restart_at) if config.restart_at else None
        self._last_minute: float | None = None

    def apply(self, loop: RenderLoop) -> None:
        now = self.wall()
        minute = now.hour * 60 + now.minute + now.second / 60 + now.microsecond / 6e7
        loop.dimmer, inside = level(minute, self.config)
        if inside != self.inside:
            if self._fps is None:
                self._fps = loop.settings.fps
            self.inside = inside
            loop.settings.fps = (
                self._fps
                if inside
                else min(self._fps or self.config.idle_fps, self.config.idle_fps)
            )
            log.info(
                "schedule: %s show hours (%s)",
                "inside" if inside else "outside",
                ", ".join("-".join(h) for h in self.config.hours) or "always",
            )
            for hook in self.on_hours:
                try:
                    hook(inside)
                except Exception:  # the trainer's share is not worth a frame
                    log.exception("schedule: a show-hours hook failed")
        self._maybe_restart(loop, minute)

    def _maybe_restart(self, loop: RenderLoop, minute: float) -> None:
        last, self._last_minute = self._last_minute, minute
        at = self._restart_minute
        if not self.restart or at is None or last is None:
            return
        step = _since(last, minute)
        crossed = 0 < step < 5 and 0 < _since(last, at) <= step  # (a clock jump is no cue)
        if crossed and loop.clock.now() - loop._started > MIN_UPTIME_S:
            log.info("schedule: the daily restart (%s)", self.config.restart_at)
            raise SystemExit(EXIT_RESTART)

    def hud_lines(self) -> tuple[str, ...]:
        return () if self.inside in (None, True) else ("outside show hours",)
