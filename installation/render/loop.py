"""The render loop: the nine steps of one frame, nothing else (it starts no threads).

  1 drain events (never block)        2 map events to parameter targets (pure)
  3 slew parameters toward targets    4 navigator: z from phase and parameters (pure)
  5 take a validated model if offered, start the crossfade
  6-7 generate and convert on the device, copy to the host (FrameRenderer)
  8 present with pygame, HUD, stats line   9 feedback: changed targets to the out queues

Pipelined mode overlaps 6-7 of frame N+1 with 8 of frame N on a worker thread (see
pipeline.py); sequential mode generates right before presenting, which gives the lowest
latency when there is slack in the frame budget. An exception while rendering becomes a
message on screen and in the log, never a crash.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from installation.checkpoints import LoadedModel
from installation.clock import Clock
from installation.events import ControlEvent, Event, EventQueue
from installation.live.swap import SwapBox
from installation.navigator import Navigator, advance
from installation.params import Registry, apply_events, slew
from installation.render.display import PygameDisplay
from installation.render.outputs.hub import OutputHub
from installation.render.pipeline import GeneratorPool, default_workers
from installation.render.renderer import BadFrame, FrameRenderer, RenderJob
from installation.render.style import (
    MixWalk,
    controls_from_values,
    has_transform,
    is_excited,
    is_styled,
    style_hud_line,
)
from installation.stats import StatsWriter

log = logging.getLogger(__name__)
STYLE_LEAD = 2.5  # keyframes ahead of the walk: the latent whose style style.mix lends

# A mapper turns raw events into registry events; it sees the current targets (for takeover
# rules) and the loop's clock time (for scheduled events), and consumes the events meant for
# it (clock ticks, device notices). It must be pure and never block.
EventMapper = Callable[[list[Event], Mapping[str, float], float], list[Event]]
# Feedback gets the targets that changed this frame and the events that changed them (so a
# sender is not echoed its own value). It must only queue work, never block.
Feedback = Callable[[dict[str, float], list[ControlEvent]], None]
# Status sinks get a small dict a few times a second (fps, frame, model, uptime ...).
StatusSink = Callable[[dict[str, object]], None]
# A phase sync may take over the walk's phase (MIDI clock): (phase, values, dt, now) -> the
# new phase, or None to let walk.speed move it as usual.
PhaseSync = Callable[[float, Mapping[str, float], float, float], "float | None"]
# A latent hook may change the navigator's latent (loops, drift, morphs): (z, phase, values,
# now) -> z, of the same size.
LatentHook = Callable[[np.ndarray, float, Mapping[str, float], float], np.ndarray]


@dataclass
class LoopSettings:
    fps: float = 60.0  # 0 = uncapped
    max_frames: int | None = None
    max_seconds: float | None = None
    pipelined: bool = False
    out_dir: Path | None = None
    out_format: str = "png"  # "bmp" writes 70x faster at 1080p (frames on their way into a video)
    screenshot_dir: Path = Path("screenshots")
    crossfade_s: float = 2.0


@dataclass
class LoopHooks:
    """What other subsystems plug into the loop; all optional."""

    events: EventQueue = field(default_factory=EventQueue)
    swap_box: SwapBox[LoadedModel] | None = None
    mappers: Sequence[EventMapper] = ()
    feedback: Sequence[Feedback] = ()
    # Extra HUD lines (training step, last swap, control counters), called a few times a second.
    hud_lines: Sequence[Callable[[], Iterable[str]]] = ()
    on_swap: Sequence[Callable[[LoadedModel, LoadedModel], None]] = ()
    on_status: Sequence[StatusSink] = ()
    phase_sync: Sequence[PhaseSync] = ()
    latent: Sequence[LatentHook] = ()
    # A style-based model's w offset for this frame (values -> [w_dim] or None): directions
    # found in w-space push there (instruments/instrument.py).
    w_offset: Sequence[Callable[[Mapping[str, float]], np.ndarray | None]] = ()
    # Fields other services add to the status (the show's tempo), called with the loop's now.
    status_fields: Sequence[Callable[[float], Mapping[str, object]]] = ()
    # Set by the runtime: moves a model to the renderer's device and precision. Services call
    # it off the render thread before offering a model to swap_box.
    prepare: Callable[[LoadedModel], LoadedModel] | None = None
    # Video outputs and the screenshot writer (render/outputs/hub.py): frames are copied to
    # them at present and written on their own threads.
    outputs: OutputHub | None = None
    # The kiosk's frame guard (kiosk/guard.py): judges each presented frame and may return
    # a model to recover into: (loop, buffer index or None if refused, work ms, now).
    guard: Callable[[Any, int | None, float, float], LoadedModel | None] | None = None
    # Work handed over whole by other threads, applied at the frame boundary with the loop
    # (a live reload of show.yaml, the schedule, attract mode). Must never block.
    tasks: Sequence[Callable[[Any], None]] = ()


class RenderLoop:
    def __init__(
        self,
        *,
        display: PygameDisplay,
        renderer: FrameRenderer,
        registry: Registry,
        navigator: Navigator,
        clock: Clock,
        stats: StatsWriter,
        settings: LoopSettings,
        hooks: LoopHooks | None = None,
    ) -> None:
        self.display, self.renderer, self.registry = display, renderer, registry
        self.navigator, self.clock, self.stats = navigator, clock, stats
        self.settings = settings
        self.hooks = hooks or LoopHooks()
        self.targets = registry.initial_values()
        self.values = dict(self.targets)
        self.phase = 0.0
        self.frame = 0
        self.running = True
        self.error: str | None = None
        # Frames the renderer refused (renderer.BadFrame: NaN/Inf, long black), by kind.
        self.refused: dict[str, int] = {}
        self.recoveries = 0
        self.dimmer = 1.0  # the kiosk schedule's fade (0 blank .. 1), times output.brightness
        self._previous_navigator: Navigator | None = None
        self._mix_walk = MixWalk()  # the second latent of StyleGAN style mixing
        self._fade_start: float | None = None
        self._pool: GeneratorPool | None = None
        if settings.pipelined:
            workers = default_workers(renderer.device)
            assert len(renderer.host_arrays) > workers, "pipelining needs workers + 1 host buffers"
            self._pool = GeneratorPool(renderer.render_job, workers)
        self._next_buffer = 0
        self._hud: list[str] = []
        self._hud_refreshed = -1.0
        self._fps_ema = 0.0
        self._tempo_ema = 0.0
        self._last_frame_ms = self._last_gen_ms = 0.0
        self._work_ema = 0.0  # seconds of generate+present, for late-latched pacing
        self._last_present: float | None = None
        self._shown_index: int | None = None
        self._screenshot_due = False
        self._status_sent = float("-inf")
        self._hook_failure_logged = float("-inf")
        self._unshown_events: list[ControlEvent] = []
        self._started = clock.now()
        self._last_t = self._started

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        start = self._started = self.clock.now()
        self._last_t = start
        deadline = start
        s = self.settings
        # --seconds ends the show on time even when the next frame is further off (fps 0.01).
        end = start + s.max_seconds if s.max_seconds is not None else float("inf")
        try:
            while self.running:
                # Read each frame: the kiosk's schedule lowers the rate outside show hours.
                period = 1.0 / self.settings.fps if self.settings.fps > 0 else 0.0
                if period:
                    # Sleep before draining input so the frame uses the freshest events and
                    # still presents on its deadline (late latching).
                    lead = self._work_ema if self.clock.realtime else 0.0
                    self.clock.sleep_until(min(deadline - lead, end))
                    if self.clock.now() >= end:
                        break
                    deadline = max(deadline + period, self.clock.now() - period)
                self.step()
                if s.max_frames is not None and self.frame >= s.max_frames:
                    break
                if self.clock.now() >= end:
                    break
        finally:
            if self._pool is not None:
                self._pool.close()
        return self.frame

    def step(self) -> None:
        now = self.clock.now()
        dt = max(0.0, now - self._last_t)
        self._last_t = now
        for task in self.hooks.tasks:
            self._guarded("frame task", task, self)
        # 1-2: drain and map input.
        raw: list[Event] = [*self.display.poll(), *self.hooks.events.drain()]
        for mapper in self.hooks.mappers:  # a mapping bug drops this batch, not the show
            raw = self._guarded("event mapper", mapper, raw, self.targets, now, failed=[])
        # What no mapper consumed (a clock tick with MIDI off) has nothing to change.
        events = [e for e in raw if isinstance(e, ControlEvent)]
        # 3: parameters.
        old_targets = self.targets
        self.targets, actions = apply_events(self.registry, self.targets, events)
        self.values = slew(self.registry, self.values, self.targets, dt)
        for action in actions:
            self._run_action(action)
        # 5: a new model waits at the frame boundary.
        if self.hooks.swap_box is not None:
            offered = self.hooks.swap_box.take()
            if offered is not None:
                self._swap(offered, now)
        # 4: where in latent space we are.
        v = self.values
        synced = None
        for sync in self.hooks.phase_sync:  # e.g. MIDI clock locking the walk to the beat
            synced = self._guarded("phase sync", sync, self.phase, v, dt, now)
            if synced is not None:
                break
        previous_phase = self.phase
        self.phase = (
            synced
            if synced is not None
            else advance(self.phase, v["walk.speed"], v["walk.paused"], dt)
        )
        if dt > 0:  # keyframes/s, smoothed over about a second, for the bpm in the status
            rate = abs(self.phase - previous_phase) / dt
            self._tempo_ema += (rate - self._tempo_ema) * (1.0 - math.exp(-dt))
        z, previous_z, mix, style = self._latents(v, now)
        # 9 (queued before the slow part, so controllers hear back as soon as possible).
        changed = {k: val for k, val in self.targets.items() if old_targets.get(k) != val}
        if changed or actions:
            for send in self.hooks.feedback:
                self._guarded("feedback", send, changed, events)
        # 6-8: generate and present.
        work_start = time.perf_counter()
        brightness = v["output.brightness"] * self.dimmer
        gen_ms, index, ready = self._generate(z, brightness, previous_z, mix, style)
        if not ready:
            self._unshown_events.extend(events)
            return
        if index is not None:
            self._shown_index = index
        present_ms = self._present()
        self._work_ema += 0.1 * ((time.perf_counter() - work_start) - self._work_ema)
        if self._unshown_events:
            events, self._unshown_events = self._unshown_events + events, []
        self._record(gen_ms, present_ms, events)
        if self.hooks.guard is not None:
            # Judged on the frame's own work (not the gap since the last one: a loop that is
            # not being stepped is not stalled).
            model = self._guarded(
                "frame guard", self.hooks.guard, self, index, gen_ms + present_ms, now
            )
            if model is not None:
                self._recover(model, now)
        if self.hooks.on_status and now - self._status_sent >= 0.25:
            self._status_sent = now
            status = self.status()
            for sink in self.hooks.on_status:
                self._guarded("status sink", sink, status)

    def _guarded(self, what: str, hook: Callable[..., Any], *args: Any, failed: Any = None) -> Any:
        """Call one hook; an exception in it is logged (at most once a second, with its
        traceback) and becomes `failed`: no hook can stop the show. Every hook goes through here."""
        try:
            return hook(*args)
        except Exception:
            now = time.monotonic()
            if now - self._hook_failure_logged > 1.0:
                self._hook_failure_logged = now
                log.exception("%s failed; the show goes on", what)
            return failed

    def status(self) -> dict[str, object]:
        model = self.renderer.model
        beats = max(1, int(round(self.values.get("walk.beats", 4.0))))
        beat_position = self.phase * beats
        status: dict[str, object] = {
            "fps": round(self._fps_ema, 2),
            "frame": self.frame,
            "model": model.id,
            "version": model.version,
            "uptime": round(self.clock.now() - self._started, 3),
            "device": self.renderer.device.type,
            "error": self.error or "",
            **({"outputs": self.hooks.outputs.status()} if self.hooks.outputs else {}),
            "refused_frames": sum(self.refused.values()),
            "recoveries": self.recoveries,
            # State out (control/osc/state.py): the walk's tempo as measured, so a MIDI
            # clock that drives the phase shows as its own bpm.
            "bpm": round(self._tempo_ema * beats * 60.0, 3),
            "beat": round(beat_position % 1.0, 4),
            "beat_in_bar": int(beat_position % beats) + 1,
            "bar": math.floor(self.phase) + 1,
            "phase": round(self.phase, 4),
            "keyframe": math.floor(self.phase),
        }
        now = self.clock.now()
        for fields in self.hooks.status_fields:  # e.g. the show's tempo, when one is known
            status.update(self._guarded("status fields", fields, now, failed={}))
        tempo_beat = status.pop("tempo_beat", None)
        if isinstance(tempo_beat, float) and math.isfinite(tempo_beat):  # beats of that tempo
            status.update(
                beat=round(tempo_beat % 1.0, 4),
                beat_in_bar=int(tempo_beat % beats) + 1,
                bar=math.floor(tempo_beat / beats) + 1,
            )
        return status

    # -- steps ---------------------------------------------------------------------------
    def _latents(self, v: Mapping[str, float], now: float):
        """(z, previous model's z, crossfade mix, StyleControls or None) for this frame.
        A style-based model takes truncation as psi toward w_avg, not as a scale on z; a
        few-shot model takes style.mix (a latent further along the walk) and noise.strength."""
        styled, previous_styled = is_styled(self.renderer.model), is_styled(self.renderer.previous)
        truncation = v["latent.truncation"]
        z = self.navigator.position(self.phase, 1.0 if styled else truncation)
        for hook in self.hooks.latent:
            z = self._guarded("latent hook", hook, z, self.phase, v, now, failed=z)
        mix, previous_z = self._crossfade(now, 1.0 if previous_styled else truncation)
        same_space = previous_z is not None and previous_z.shape == z.shape
        if same_space and styled == previous_styled:
            previous_z = z  # same latent space: both models show where the hooks put it
        if not (styled or previous_styled):
            if not is_excited(self.renderer.model):
                return z, previous_z, mix, None
            # style.mix on a few-shot model: the walk a little ahead lends colour and texture.
            lead = (
                self.navigator.position(self.phase + STYLE_LEAD, truncation)
                if v.get("style.mix", 0.0) > 0.0
                else None
            )
            return z, previous_z, mix, controls_from_values(v, lead)
        mixing = styled and v.get("style.mix", 0.0) > 0
        mix_z = self._mix_walk.position(self.navigator, self.phase) if mixing else None
        found = (self._guarded("w offset hook", h, v) for h in self.hooks.w_offset)
        offsets = [o for o in found if o is not None]
        w_offset = np.sum(offsets, axis=0).astype(np.float32) if offsets else None
        return z, previous_z, mix, controls_from_values(v, mix_z, w_offset)

    def _generate(
        self, z, brightness, previous_z, mix, style=None
    ) -> tuple[float, int | None, bool]:
        """(gen ms, host buffer to show or None on error, whether a frame is ready)."""
        if self._pool is None:
            start = time.perf_counter()
            try:
                index = self.renderer.render(z, brightness, previous_z, mix, style=style)
            except Exception as exc:
                return (time.perf_counter() - start) * 1000, self._render_failed(exc), True
            self.error = None
            return (time.perf_counter() - start) * 1000, index, True
        # Pipelined: queue this frame, then collect the oldest one in flight.
        r = self.renderer
        job = RenderJob(
            r.model, z, brightness, r.previous, previous_z, mix, self._next_buffer, style
        )
        self._pool.submit(job)
        self._next_buffer = (self._next_buffer + 1) % len(self.renderer.host_arrays)
        # Keep every worker busy while this frame is presented: collect only the frame that
        # is `workers` frames old.
        if self._pool.in_flight <= self._pool.workers:
            return 0.0, None, False  # filling the pipeline: nothing to show yet
        result = self._pool.next_result()
        if result.error is not None:
            return result.gen_ms, self._render_failed(result.error), True
        self.error = None
        return result.gen_ms, result.index, True

    def _render_failed(self, exc: BaseException) -> None:
        if isinstance(exc, BadFrame):  # counted, and the last good frame stays shown
            n = self.refused[exc.kind] = self.refused.get(exc.kind, 0) + 1
            if math.log10(n).is_integer():  # 1, 10, 100 ...: the count is on /health
                log.warning("frame guard: refused %d %s frame(s) so far", n, exc.kind)
            return None
        if self.error is None:
            log.error("rendering failed, showing the last good frame: %r", exc)
            self.stats.event("render_error", t=self.clock.now(), error=repr(exc))
        self.error = f"render error: {exc!r}"[:120]
        return None

    def _present(self) -> float:
        start = time.perf_counter()
        if self._shown_index is not None:
            pixels = self.renderer.host_arrays[self._shown_index]
            outputs = self.hooks.outputs
            save_here = self._screenshot_request(outputs)
            grab = outputs.display if outputs is not None and outputs.wants_display() else None
            self.display.present(pixels, self._hud_text(), grab=grab)
            if outputs is not None:
                outputs.native(pixels)
            if save_here is not None:  # no screenshot writer (PyAV missing): a frame's stall
                log.info("screenshot saved to %s", self.display.screenshot(save_here))
            if self.settings.out_dir is not None:
                self.display.screenshot(
                    self.settings.out_dir / f"frame_{self.frame:06d}.{self.settings.out_format}"
                )
        return (time.perf_counter() - start) * 1000

    def _screenshot_request(self, outputs: OutputHub | None) -> Path | None:
        """Queue a due screenshot with the writer thread (it takes this frame's picture,
        without the HUD); the path to save on this thread instead when there is none."""
        if not self._screenshot_due:
            return None
        self._screenshot_due = False
        path = self.settings.screenshot_dir / datetime.now().strftime(
            "installation-%Y%m%d-%H%M%S-%f.png"
        )
        self.stats.event("screenshot", t=self.clock.now(), path=str(path))
        return None if outputs is not None and outputs.screenshot(path) else path

    def _run_action(self, event: ControlEvent) -> None:
        if event.target == "quit":
            self.running = False
        elif event.target == "screenshot":
            self._screenshot_due = True
        elif event.target == "display.fullscreen":
            self.display.toggle_fullscreen()
        elif event.target == "cue.next":
            self.phase = math.floor(self.phase) + 1.0
        elif event.target == "cue.previous":
            self.phase = math.ceil(self.phase) - 1.0

    def _swap(self, model: LoadedModel, now: float) -> None:
        old = self.renderer.model
        self.renderer.previous = old
        self.renderer.model = model
        self._previous_navigator = self.navigator
        if model.latent_dim != self.navigator.latent_dim:
            nav = self.navigator
            self.navigator = Navigator(model.latent_dim, nav.seed, nav.mode, nav.easing)
        self._fade_start = now
        log.info("swapped in %s v%d (was %s v%d)", model.id, model.version, old.id, old.version)
        self.stats.event(
            "swap", t=now, frame=self.frame, model=model.describe(), previous=old.describe()
        )
        for hook in self.hooks.on_swap:
            self._guarded("swap hook", hook, old, model)

    def _recover(self, model: LoadedModel, now: float) -> None:
        """The frame guard's answer to a stall: a cut (no crossfade from a broken picture)
        to `model`, the last known good one, with the device's state reset."""
        self.renderer.reset_device()
        if model is not self.renderer.model:
            self._swap(model, now)
            self._fade_start, self.renderer.previous, self._previous_navigator = None, None, None
        self.error = None
        self.recoveries += 1
        self.stats.event("recovery", t=now, frame=self.frame, model=model.describe())

    def _crossfade(self, now: float, truncation: float):
        if self._fade_start is None:
            return 1.0, None
        mix = (
            (now - self._fade_start) / self.settings.crossfade_s
            if self.settings.crossfade_s > 0
            else 1.0
        )
        if mix >= 1.0:
            self._fade_start = None
            self.renderer.previous = None
            self._previous_navigator = None
            return 1.0, None
        assert self._previous_navigator is not None
        return mix, self._previous_navigator.position(self.phase, truncation)

    # -- HUD and stats -------------------------------------------------------------------
    def _hud_text(self) -> list[str]:
        if self.values["hud.visible"] < 0.5 and self.error is None:
            return []
        now = time.monotonic()
        if now - self._hud_refreshed > 0.25:  # text re-rendered at 4 Hz, not every frame
            self._hud_refreshed = now
            model = self.renderer.model
            self._hud = [
                f"{self._fps_ema:5.1f} fps   frame {self._last_frame_ms:5.1f} ms   gen {self._last_gen_ms:5.1f} ms"
                + (
                    f"   sr x{up.scale} {up.last_ms:4.1f} ms"
                    if (up := self.renderer.upscaler)
                    else ""
                ),
                f"model {model.id} v{model.version}   {self.renderer.device.type}",
                f"speed {self.values['walk.speed']:+.2f}   "
                + ("psi" if is_styled(model) else "truncation")
                + f" {self.values['latent.truncation']:.2f}"
                + ("   paused" if self.targets["walk.paused"] >= 0.5 else ""),
            ]
            if is_styled(model):
                self._hud.append(style_hud_line(self.values, has_transform(model)))
            for source in self.hooks.hud_lines:
                self._hud.extend(self._guarded("HUD lines", source, failed=()))
            if self.error:
                self._hud.append(self.error)
        return self._hud

    def _record(self, gen_ms: float, present_ms: float, events: list[ControlEvent]) -> None:
        t = self.clock.now()
        frame_ms = 0.0 if self._last_present is None else (t - self._last_present) * 1000
        self._last_present = t
        if frame_ms > 0:
            self._fps_ema += (
                0.1 * (1000.0 / frame_ms - self._fps_ema) if self._fps_ema else 1000.0 / frame_ms
            )
        self._last_frame_ms, self._last_gen_ms = frame_ms, gen_ms
        if self.stats.enabled:
            fields = {}
            if self.renderer.upscaler is not None:  # the latest upscale (part of gen_ms)
                fields["sr_ms"] = round(self.renderer.upscaler.last_ms, 3)
            if events:
                # Latency from arrival to this present, per source: osc_to_photon and co;
                # `applied` is the target as this frame set it (after clamping), to audit a session.
                fields["inputs"] = [
                    {
                        "target": e.target,
                        "source": e.source,
                        "received": e.received,
                        "applied": round(self.targets[e.target], 6)
                        if e.target in self.targets
                        else None,
                    }
                    for e in events
                ]
            self.stats.frame(
                frame=self.frame,
                t=t,
                frame_ms=round(frame_ms, 3),
                gen_ms=round(gen_ms, 3),
                present_ms=round(present_ms, 3),
                model={"id": self.renderer.model.id, "version": self.renderer.model.version},
                params={k: round(val, 6) for k, val in self.values.items()},
                **fields,
            )
        self.frame += 1
