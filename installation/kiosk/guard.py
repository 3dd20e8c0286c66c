"""The frame guard and the in-show recovery (the first line of the kiosk's defence).

The renderer refuses a NaN/Inf frame itself (render/renderer.BadFrame), so the last good
frame stays on screen; the loop counts those. This guard, called once per presented frame,
adds what needs time:
- all black for `black_s` while the model should draw (brightness up): from then on black
  frames are refused too (the last good frame stays), until a frame with content comes;
- a stall: a frame slower than `stall_s`, or render errors / refused frames for that long.
  Then the show recovers by itself before anyone kills it: it cuts to the last known good
  model (one that played `good_after_s` with clean frames) and resets device state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from installation.checkpoints import LoadedModel

if TYPE_CHECKING:
    from installation.render.loop import RenderLoop

log = logging.getLogger(__name__)

# Below this brightness a black picture is what the operator asked for.
DRAWING_BRIGHTNESS = 0.05


@dataclass
class GuardSettings:
    stall_s: float = 2.0
    black_s: float = 10.0
    good_after_s: float = 30.0


class FrameGuard:
    def __init__(self, settings: GuardSettings, should_draw=lambda: True) -> None:
        self.settings = settings
        self.should_draw = should_draw  # the schedule's say: False while it blanks the screen
        self.last_good: LoadedModel | None = None
        self.recoveries = 0
        self.black_refused = False
        self._model: LoadedModel | None = None
        self._clean_since: float | None = None
        self._black_since: float | None = None
        self._failing_since: float | None = None
        self._previous_index: int | None = None
        self._held = None  # a copy of the last picture before black began

    def after_frame(
        self, loop: RenderLoop, index: int | None, work_ms: float, now: float
    ) -> LoadedModel | None:
        """Judge the frame just presented (index None: it was refused or failed; work_ms: its
        generate + present time); return the model to recover into, or None."""
        renderer, s = loop.renderer, self.settings
        model = renderer.model
        if model is not self._model:  # a swap: the new model earns its good name afresh
            self._model, self._clean_since = model, None
        bad = index is None
        if not bad:
            black = (
                renderer.black[index]
                and loop.values["output.brightness"] > DRAWING_BRIGHTNESS
                and self.should_draw()
            )
            if not black:
                self._black_since = None
            elif self._black_since is None:
                self._black_since = now
                # The picture before the black one is still whole in its buffer: keep it, in
                # case black lasts and the last good frame has to come back.
                previous = self._previous_index
                self._held = (
                    renderer.host_arrays[previous].copy() if previous not in (None, index) else None
                )
            self._previous_index = index
        elif not renderer.refuse_black:
            self._black_since = None  # a NaN or an error, not black: the black timer restarts
        long_black = self._black_since is not None and now - self._black_since >= s.black_s
        bad = bad or long_black
        if renderer.refuse_black != long_black:
            renderer.refuse_black = long_black
            if long_black:
                log.warning(
                    "frame guard: all black for %.1f s while the model should draw; "
                    "holding the last good frame",
                    s.black_s,
                )
                if self._held is not None and index is not None:  # shown from the next present
                    renderer.host_arrays[index][...] = self._held
            else:
                log.info("frame guard: pictures are back")
        if bad:
            self._clean_since = None
            if self._failing_since is None:
                self._failing_since = now
        else:
            self._failing_since = None
            if self._clean_since is None:
                self._clean_since = now
            if now - self._clean_since >= s.good_after_s and self.last_good is not model:
                self.last_good = model
                log.info("last known good model: %s v%d", model.id, model.version)
        stalled = work_ms > s.stall_s * 1000
        failing = self._failing_since is not None and now - self._failing_since >= s.stall_s
        if not (stalled or failing):
            return None
        why = (
            f"a {work_ms / 1000:.1f} s frame"
            if stalled
            else f"bad frames for {now - self._failing_since:.1f} s"
        )
        self._failing_since = None
        self._black_since = None
        renderer.refuse_black = False
        self.recoveries += 1
        target = self.last_good or model
        log.error(
            "render stalled (%s): recovering into %s v%d and resetting the device",
            why,
            target.id,
            target.version,
        )
        return target
