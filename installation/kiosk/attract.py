"""Attract mode: after `after_min` minutes without control input, the show tours by itself.

It walks on (unpaused, at least `speed` keyframes a second, so it passes through keyframe
after keyframe without a cut) and every `scene_s` seconds recalls the next stop of the
tour, the way a performer would, so each change glides instead of cutting:

- the scene file's scenes (instruments/scenes.py), in cue order: a `cue.jump` event, the
  very recall an OSC or MIDI cue makes (the instrument's morph: latent slerp, parameters,
  the scene's keyframes, seed and phase);
- show.yaml's `scenes:` (parameter sets): the instrument's morph to them;
- with no scenes at all, the loop's keyframes: `keyframe.recall`, a performer's recall of
  keyframe N (the loop glides there and plays on from it).

The first input from anyone (keyboard, OSC, MIDI) ends it, and nothing is reset: the
morph the tour started stops pushing parameters (they stay where the glide had brought
them; the picture finishes its glide), so control starts from where the tour was.

Two hooks: `seen` is an event mapper (it runs after the instrument's: it looks at input and
holds the tour's speed floor), `apply` a frame task (before the mappers: the tour's recall
events are drained in the same frame).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from installation.events import ControlEvent, Event
from installation.kiosk.config import AttractConfig

if TYPE_CHECKING:
    from installation.instruments.instrument import Instrument
    from installation.instruments.morph import Morph
    from installation.render.loop import RenderLoop

log = logging.getLogger(__name__)

SOURCE = "attract"
# Events the show makes itself: none of them is someone playing.
MACHINE_SOURCES = frozenset(
    {SOURCE, "morph", "instrument", "projection", "hotswap", "audio", "display"}
)


def is_input(e: Event) -> bool:
    """Whether a person (keyboard, OSC, MIDI, a replayed performance) sent this."""
    return (
        isinstance(e, ControlEvent)
        and e.source not in MACHINE_SOURCES
        and not e.source.startswith("envelope:")
    )


class AttractMode:
    def __init__(
        self,
        config: AttractConfig,
        scenes: Mapping[str, Mapping[str, float]],
        instrument: Instrument | None = None,
    ) -> None:
        self.config, self.instrument = config, instrument
        self.set_scenes(scenes)
        self.active = False
        self.tours = 0
        self._last_input: float | None = None
        self._next_stop_at = math.inf
        self._stop = -1
        self._recalling = False  # a recall event is on its way through this frame's mappers
        self._morph: Morph | None = None  # the morph the tour started last

    def set_scenes(self, scenes: Mapping[str, Mapping[str, float]]) -> None:
        """show.yaml's scenes (again after a live reload)."""
        self.scenes = [(name, dict(values)) for name, values in scenes.items()]

    # -- the mapper: input, and the morph the tour's recall started ---------------------
    def seen(self, events: list[Event], targets: Mapping[str, float], now: float) -> list[Event]:
        inst = self.instrument
        if self._recalling and inst is not None:
            self._recalling = False
            self._morph = inst.morph
            self._floor(self._morph)
        person = next((e for e in events if is_input(e)), None)
        if person is not None:
            self._last_input = now
            if self.active:
                released = self._hand_back(person)
                # This frame's step of the glide was made before the input was seen.
                events = [
                    e
                    for e in events
                    if not (
                        isinstance(e, ControlEvent) and e.source == "morph" and e.target in released
                    )
                ]
        return events

    def _hand_back(self, e: Event) -> set[str]:
        """Control back to people; the parameters the tour's morph stops pushing."""
        self.active = False
        morph, released = self._morph, set()
        if morph is not None and self.instrument is not None and self.instrument.morph is morph:
            released = set(morph.params_from)
            for name in released:  # where the glide got to, it stays
                morph.release(name)
        self._morph = None
        log.info(
            "attract mode: input from %s; control is back", getattr(e, "source", "") or "keyboard"
        )
        return released

    def _floor(self, morph: Morph | None) -> None:
        """The tour keeps walking: a stop's speed and pause are held to the tour's floor."""
        if morph is None:
            return
        to = morph.params_to
        if "walk.speed" in to and abs(to["walk.speed"]) < self.config.speed:
            to["walk.speed"] = math.copysign(self.config.speed, to["walk.speed"] or 1.0)
        if "walk.paused" in to:
            to["walk.paused"] = 0.0

    # -- the frame task -------------------------------------------------------------------
    def apply(self, loop: RenderLoop) -> None:
        now = loop.clock.now()
        if self._last_input is None:
            self._last_input = now
        if not self.active:
            if now - self._last_input < self.config.after_min * 60:
                return
            self.active, self._next_stop_at = True, now
            self.tours += 1
            log.info("attract mode: no input for %.0f min; touring", self.config.after_min)
        targets = dict(loop.targets)
        targets["walk.paused"] = 0.0
        if abs(targets["walk.speed"]) < self.config.speed:
            targets["walk.speed"] = math.copysign(self.config.speed, targets["walk.speed"] or 1.0)
        if targets != loop.targets:
            loop.targets = targets
        if now >= self._next_stop_at:
            self._next_stop_at = now + self.config.scene_s
            self._next_stop(loop, now)

    def _stops(self) -> list[tuple[str, int]]:
        inst = self.instrument
        book = inst.desk.book if inst is not None else None
        stops: list[tuple[str, int]] = [("cue", i) for i in range(len(book.scenes) if book else 0)]
        stops += [("scene", i) for i in range(len(self.scenes))]
        if not stops and inst is not None:
            stops = [("keyframe", i) for i in range(len(inst.desk.loop_keyframes()))]
        return stops

    def _next_stop(self, loop: RenderLoop, now: float) -> None:
        stops = self._stops()
        if not stops:
            return  # nothing to recall: the tour walks the navigator's keyframes
        self._stop = (self._stop + 1) % len(stops)
        kind, index = stops[self._stop]
        inst = self.instrument
        if kind == "scene":
            name, values = self.scenes[index]
            log.info("attract mode: scene %s", name)
            if inst is None:  # no instrument (a bare loop): the targets slew there
                loop.targets = {**loop.targets, **values}
                return
            inst.start_morph(now, loop.targets, values, f"attract: {name}")
            self._morph = inst.morph
            self._floor(self._morph)
            return
        action = "cue.jump" if kind == "cue" else "keyframe.recall"
        log.info("attract mode: %s %d", action, index + 1)
        loop.hooks.events.put(ControlEvent(action, float(index + 1), source=SOURCE))
        self._recalling = True

    def hud_lines(self) -> tuple[str, ...]:
        return ("attract mode: touring until someone plays",) if self.active else ()
