"""Fallback level 3: a still frame that says what is wrong, heartbeat and all, so the
supervisor knows it is alive and the technician can read the error from across the room."""

from __future__ import annotations

import logging
import textwrap
import time

import numpy as np

from installation.kiosk.heartbeat import HeartbeatSender
from installation.kiosk.restore import KioskSpec
from installation.render.display import DisplayError, DisplaySettings, PygameDisplay

log = logging.getLogger(__name__)


def still_lines(spec: KioskSpec) -> list[str]:
    lines = [
        "installation: the show could not keep running",
        f"restarts: {spec.restarts}; it tries again after a quiet while",
        "",
    ]
    for part in (spec.error or "no error was reported").splitlines():
        lines += textwrap.wrap(part, 90) or [""]
    return lines[:30]


def show_still(spec: KioskSpec, settings: DisplaySettings, seconds: float | None = None) -> int:
    """Show the error until quit, stopped, or `seconds` pass; returns 0."""
    display = PygameDisplay(settings)
    try:
        display.open()
    except DisplayError as exc:
        log.error("the still frame cannot open a display either: %s", exc)
        return 1
    beat = HeartbeatSender.from_env()
    pixels = np.zeros((8, 8, 4), dtype=np.uint8)
    lines = still_lines(spec)
    log.error("kiosk: showing a still frame with the error: %s", spec.error)
    start = time.monotonic()
    frame = 0
    try:
        while seconds is None or time.monotonic() - start < seconds:
            if any(e.target == "quit" for e in display.poll()):
                break
            display.present(pixels, lines)
            frame += 1
            if beat is not None:
                beat.beat(frame, time.monotonic() - start)
            time.sleep(0.25)
    finally:
        display.close()
        if beat is not None:
            beat.close()
    return 0
