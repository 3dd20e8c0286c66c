"""Attract mode: after `after_min` minutes without control input, the show tours by itself.

It walks on (unpaused, at least `speed` keyframes a second, so it passes through keyframe
after keyframe without a cut) and recalls the show's scenes in turn every `scene_s`
seconds; parameters slew to a scene as they do for a MIDI program change. The first input
from anyone (keyboard, OSC, MIDI) ends it, and nothing is reset: control starts from where
the tour was, so there is no jump.

Two hooks: `seen` is an event mapper (it only looks), `apply` a frame task.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from installation.events import ControlEvent
from installation.kiosk.config import AttractConfig

if TYPE_CHECKING:
    from installation.render.loop import RenderLoop

log = logging.getLogger(__name__)


class AttractMode:
    def __init__(self, config: AttractConfig, scenes: Mapping[str, Mapping[str, float]]) -> None:
        self.config = config
        self.scenes = list(scenes.items())
        self.active = False
        self.tours = 0
        self._last_input: float | None = None
        self._next_scene_at = math.inf
        self._scene = -1

    def seen(
        self, events: list[ControlEvent], targets: Mapping[str, float], now: float
    ) -> list[ControlEvent]:
        if events:
            self._last_input = now
            if self.active:
                self.active = False
                log.info(
                    "attract mode: input from %s; control is back",
                    events[0].source or "the keyboard",
                )
        return events

    def apply(self, loop: RenderLoop) -> None:
        now = loop.clock.now()
        if self._last_input is None:
            self._last_input = now
        if not self.active:
            if now - self._last_input < self.config.after_min * 60:
                return
            self.active, self._next_scene_at = True, now
            self.tours += 1
            log.info("attract mode: no input for %.0f min; touring", self.config.after_min)
        targets = dict(loop.targets)
        targets["walk.paused"] = 0.0
        if abs(targets["walk.speed"]) < self.config.speed:
            targets["walk.speed"] = math.copysign(self.config.speed, targets["walk.speed"] or 1.0)
        if self.scenes and now >= self._next_scene_at:
            self._scene = (self._scene + 1) % len(self.scenes)
            name, values = self.scenes[self._scene]
            targets.update(values)
            self._next_scene_at = now + self.config.scene_s
            log.info("attract mode: scene %s", name)
        if targets != loop.targets:
            loop.targets = targets

    def hud_lines(self) -> tuple[str, ...]:
        return ("attract mode: touring until someone plays",) if self.active else ()
