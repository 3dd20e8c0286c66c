"""The composition root: builds a running show from a Show config and run options.

Order matters and is the point of this module: validate everything that can be wrong with
the user's files (show, model) before any window opens or port is bound; then open the
display; then start background services; run the loop on the main thread; stop services in
reverse order however the loop ended.

It is also the only place that wires parts together: each subsystem's factory builds its
service and returns it, and the functions in SERVICES here plug that service into the
loop's hooks. No subsystem touches another's hooks. And it is the one place that sets
torch's CPU thread count for the render process (`torch_threads`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from installation.checkpoints import CheckpointError, LoadedModel, load_checkpoint
from installation.clock import FixedStepClock, MonotonicClock
from installation.config.show import Show
from installation.control.midi.feedback import MidiFeedback
from installation.control.midi.mapper import MidiMapper
from installation.control.midi.service import build_midi_service
from installation.control.osc.server import build_osc_server
from installation.errors import UserError
from installation.instruments.audio import AudioInput
from installation.instruments.service import (
    RenderProgress,
    build_instrument,
    build_link,
    render_frames,
)
from installation.kiosk.attract import AttractMode
from installation.kiosk.reload import ShowReloader
from installation.kiosk.restore import KioskSpec, Restored, state_dir
from installation.kiosk.schedule import Schedule
from installation.kiosk.service import KioskService
from installation.live.service import build_live_models
from installation.live.showfile import ShowFileWatch
from installation.live.swap import SwapBox
from installation.live.trainer import schedule_share
from installation.navigator import Navigator
from installation.params import REGISTRY, Registry
from installation.render.display import DisplayError, DisplaySettings, PygameDisplay
from installation.render.fade import OneDecodeFader
from installation.render.loop import LoopHooks, LoopSettings, RenderLoop
from installation.render.outputs import build_outputs, record_video_output
from installation.render.pipeline import default_workers
from installation.render.renderer import FrameRenderer, choose_device, choose_dtype
from installation.render.upscale import UpscaleError, Upscaler, load_upscaler
from installation.stats import StatsWriter

log = logging.getLogger(__name__)


__all__ = ["RunOptions", "ShowRuntime", "UserError", "run_show"]


class Service(Protocol):
    """A background part of the show (OSC server, MIDI input, trainer, watcher)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ServiceAdapter:
    """A Service made of two functions (the output hub's start and stop)."""

    start: Callable[[], None]
    stop: Callable[[], None]


@dataclass
class RunOptions:
    headless: bool = False
    frames: int | None = None
    seconds: float | None = None
    out: Path | None = None
    stats: Path | None = None
    display: int | None = None
    windowed: bool = False
    device: str | None = None
    fixed_step: bool = False
    fps: float | None = None  # overrides the show's cap (benchmarks run uncapped)
    size: tuple[int, int] | None = None
    record_video: Path | None = None  # --record-video: a `file` output beside the show's
    record: Path | None = None  # JSON Lines of every control event (instruments/record.py)
    replay: Path | None = None  # play such a log back
    progress: bool = False  # a progress bar over `frames` (offline renders)
    out_format: str = "png"  # of the frames --out writes
    # watched while playing: edits are applied live (kiosk/reload.py) or reported
    show_path: Path | None = None
    # Under the kiosk supervisor: its spec, and the saved state to come back into.
    kiosk: KioskSpec | None = None
    restored: Restored | None = None


def resolve_pipelined(mode: str, fps: float) -> bool:
    """Pipelining buys throughput at the price of one frame of latency: worth it when
    uncapped; with a cap, the sequential loop has slack and answers a knob sooner."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return fps <= 0


def render_threads(show: Show) -> int:
    """Torch's intra-op threads for the sequential render loop on a CPU.

    "auto" is 1: two threads wait for each other at every operator, so when anything else
    wants a core (an OSC flood, a trainer, the OS) a frame stalls. Measured side by side with
    `installation bench` on 2 cores at a 60 fps cap: render p99 under 2,000 OSC msg/s over
    idle 1.92 with torch's 2 threads, 1.14 with 1 (10,000 msg/s: 2.09 against 1.29), while
    the shipped 64 px generator costs 2.7 ms a frame on one thread against 2.2 on two.
    """
    return 1 if show.model.threads == "auto" else show.model.threads


def torch_threads(show: Show, device: torch.device, pipelined: bool) -> int | None:
    """Torch's CPU thread count for the render process, decided here and nowhere else
    (None: leave torch's default).

    With OpenMP the count belongs to the thread that sets it, so it is set on the render
    thread before the loop (and its pipeline workers) start. Why each case:
    - a pipelined CPU render runs one worker per core, each single-threaded (pipeline.py);
    - a sequential CPU render uses `render_threads(show)`;
    - a background trainer gets its `training.threads` cores and the render the rest:
      torch's threads wait for each other at every barrier, so two of them on a core that
      another process also wants stall a frame again and again (measured on a 2-core CPU:
      15 ms a frame single-threaded against 90-300 ms with two).
    """
    rest = max(1, (os.cpu_count() or 1) - show.training.threads) if show.training.enabled else None
    if device.type == "cpu":
        wanted = 1 if pipelined else render_threads(show)
        return wanted if rest is None else min(wanted, rest)
    return rest


def load_model(show: Show, device: torch.device, restored: Restored | None = None) -> LoadedModel:
    if restored is not None and restored.model_path is not None:
        try:  # what played before the restart, if it is still there and whole
            return load_checkpoint(restored.model_path, device)
        except CheckpointError as exc:
            log.warning("the saved model cannot come back (%s); playing the show's own", exc)
    folder = show.resolve(show.model.path)
    try:
        return load_checkpoint(folder, device)
    except CheckpointError as exc:
        raise UserError(f"model: {exc}") from None


def display_settings(show: Show, opts: RunOptions) -> DisplaySettings:
    d = show.display
    size = opts.size or (None if d.size == "desktop" else tuple(d.size))
    return DisplaySettings(
        size=size,
        fullscreen=d.fullscreen and not opts.windowed and not opts.headless,
        display=d.display if opts.display is None else opts.display,
        vsync=d.vsync and not opts.headless,
        filter=d.filter,
        fit=d.fit,
        headless=opts.headless or not d.enabled,
        keep_open=opts.kiosk is not None,
    )


class ShowRuntime:
    """Everything one running show owns, built in order, closed in reverse."""

    def __init__(self, show: Show, opts: RunOptions, registry: Registry = REGISTRY) -> None:
        self.show, self.opts = show, opts
        self.registry = registry.with_overrides(show.param_overrides())
        if opts.restored is not None:  # the saved targets become the start values everywhere
            saved = {
                k: {"default": v}
                for k, v in opts.restored.targets.items()
                if k in self.registry.params
            }
            self.registry = self.registry.with_overrides(saved)
        try:
            self.device = choose_device(opts.device or show.model.device)
        except RuntimeError as exc:
            raise UserError(str(exc)) from None
        self.dtype = choose_dtype(self.device, show.model.precision)
        self._saved_threads = torch.get_num_threads()  # process-wide: restored in close()
        self.model = load_model(show, self.device, opts.restored)
        self.instrument = build_instrument(
            show, self.registry, self.model, record=opts.record, replay=opts.replay
        )
        if opts.progress and opts.frames is None:  # an offline render: the whole log
            opts.frames = render_frames(self.instrument, opts.fps or show.display.fps, opts.seconds)
        self.midi_clock: object | None = None  # the MIDI clock's BeatSync, once MIDI is up
        self.stats = StatsWriter(opts.stats)
        self.hooks = LoopHooks()
        self.services: list[Service] = []
        self.loop: RenderLoop | None = None
        self.display = PygameDisplay(display_settings(show, opts))
        try:
            self.display.open()
        except DisplayError as exc:
            self.stats.close()
            self.instrument.stop()
            raise UserError(str(exc)) from None
        self.upscaler = self._load_upscaler()

    def _load_upscaler(self) -> Upscaler | None:
        """display.upscale: loaded and checked against this window before the first frame."""
        up = self.show.display.upscale
        if up is None:
            return None
        try:
            sr = load_upscaler(
                self.show.resolve(up.model),
                self.model,
                self.display.size,
                self.show.display.fit,
                self.device,
                self.dtype,
            )
        except UpscaleError as exc:
            self.display.close()
            self.stats.close()
            raise UserError(f"display.upscale: {up.model}: {exc}") from None
        log.info("upscaling x%d with %s", sr.module.scale, sr.card.name)
        return Upscaler(sr)

    def build_loop(self) -> RenderLoop:
        show, opts = self.show, self.opts
        fps = show.display.fps if opts.fps is None else opts.fps
        # Upscale on the GPU before the copy when a smooth filter is asked for; on a CPU
        # pygame's scale into the window surface is ~20x cheaper than torch's interpolate.
        upscale = (
            self.display.size
            if (self.device.type == "cuda" and show.display.filter != "nearest")
            else None
        )
        pipelined = resolve_pipelined(show.display.pipeline, fps)
        threads = torch_threads(show, self.device, pipelined)
        if threads is not None:
            torch.set_num_threads(threads)  # restored in close()
            log.info("the render uses %d CPU thread(s)", threads)
        renderer = FrameRenderer(
            self.model,
            self.device,
            self.dtype,
            self.display.layout,
            upscale_to=upscale,
            filter=show.display.filter,
            buffers=default_workers(self.device) + 1,
            upscaler=self.upscaler,
        )
        settings = LoopSettings(
            fps=fps,
            max_frames=opts.frames,
            max_seconds=opts.seconds,
            pipelined=pipelined,
            out_dir=opts.out,
            out_format=opts.out_format,
            screenshot_dir=show.resolve(show.display.screenshots),
            crossfade_s=show.hotswap.crossfade_s,
        )
        self.hooks.prepare = renderer.prepare
        self.renderer, self.fps = renderer, fps
        if self.device.type == "cpu" and not pipelined:  # two decodes a frame would not fit
            renderer.fader = OneDecodeFader()
        nav = show.navigator
        navigator = Navigator(self.model.latent_dim, nav.seed, nav.mode, nav.easing)
        clock = FixedStepClock() if opts.fixed_step else MonotonicClock()
        self.loop = RenderLoop(
            display=self.display,
            renderer=renderer,
            registry=self.registry,
            navigator=navigator,
            clock=clock,
            stats=self.stats,
            settings=settings,
            hooks=self.hooks,
        )
        if opts.restored is not None:
            self.loop.phase = opts.restored.phase
        return self.loop

    def start_services(self) -> None:
        for connect in SERVICES:
            service = connect(self)
            if service is not None:
                service.start()
                self.services.append(service)

    def close(self) -> None:
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        self.display.close()
        self.stats.close()
        torch.set_num_threads(self._saved_threads)


# -- wiring: each builds a subsystem's service with its factory and plugs it into the loop ----
def connect_osc(rt: ShowRuntime) -> Service | None:
    """OSC over UDP/TCP and OSCQuery (control/osc/): scheduler, feedback, status, HUD."""
    server = build_osc_server(rt.show, rt.registry, rt.stats, rt.hooks.events)
    if server is not None:
        h = rt.hooks
        h.mappers = (*h.mappers, server.scheduler)
        h.feedback = (*h.feedback, server.on_feedback)
        h.on_status = (*h.on_status, server.on_status)
        h.hud_lines = (*h.hud_lines, server.hud_lines)
    return server


def connect_midi(rt: ShowRuntime) -> Service | None:
    """MIDI controllers, clock, learn (control/midi/): mapper, feedback, HUD, beat sync."""
    service = build_midi_service(rt.show, rt.registry, rt.stats, rt.hooks.events)
    if service is not None:
        feedback = MidiFeedback(rt.registry, service.feedback_tables, service.send)
        mapper = MidiMapper(
            rt.registry,
            arm=service.arm,
            status_lines=service.status_lines,
            on_device=feedback.full_state,
            decoders=service.decoders,
        )
        h = rt.hooks
        h.mappers = (*h.mappers, mapper)
        h.feedback = (*h.feedback, feedback)
        h.hud_lines = (*h.hud_lines, mapper.hud_lines)
        h.phase_sync = (*h.phase_sync, mapper.phase_sync)
        rt.midi_clock = mapper.clock
    return service


def connect_live(rt: ShowRuntime) -> Service | None:
    """Hot-swap and background training (live/): the swap box, controls, swaps, HUD."""
    box: SwapBox[LoadedModel] = SwapBox()
    service = build_live_models(
        rt.show, rt.registry, rt.stats, box=box, events=rt.hooks.events, prepare=rt.hooks.prepare
    )
    if service is not None:
        h = rt.hooks
        h.swap_box = box
        h.feedback = (*h.feedback, service.feedback)
        h.on_swap = (*h.on_swap, service.on_swap)
        h.hud_lines = (*h.hud_lines, service.hud_lines)
        rt.instrument.request_model = service.request_model  # a scene recalls its model
    return service


def connect_outputs(rt: ShowRuntime) -> Service | None:
    """Video outputs and screenshots (render/outputs/): frames at present, status, HUD."""
    outputs = list(rt.show.outputs)
    if rt.opts.record_video is not None:
        outputs.append(record_video_output(rt.opts.record_video))
    hub = build_outputs(
        outputs,
        base_dir=rt.show.base_dir,
        display_size=rt.display.size,
        native_size=(rt.renderer.width, rt.renderer.height),
        pygame_format=rt.display.layout.pygame_format,
        show_fps=rt.fps,
        stats_event=lambda name, **f: rt.stats.event(name, **f),
    )
    h = rt.hooks
    h.outputs = hub
    h.hud_lines = (*h.hud_lines, hub.hud_lines)
    h.on_status = (*h.on_status, hub.on_status)
    return ServiceAdapter(hub.start, hub.stop)


def connect_instruments(rt: ShowRuntime) -> Service | None:
    """Loops, scenes, cues, tempo, envelopes, record and replay (instruments/). Its mapper runs
    after OSC's and MIDI's; its phase sync first (a recalled scene's phase, loops in beats)."""
    inst, h = rt.instrument, rt.hooks
    clock = rt.midi_clock
    if clock is not None:
        inst.midi_clock = lambda: getattr(clock, "latest", None)
    h.mappers = (*h.mappers, inst.mapper)
    h.phase_sync = (inst.phase_sync, *h.phase_sync)
    h.latent = (*h.latent, inst.latent)
    h.w_offset = (*h.w_offset, inst.w_offset)
    h.hud_lines = (*h.hud_lines, inst.hud_lines)
    h.status_fields = (*h.status_fields, inst.status_fields)
    h.on_swap = (*h.on_swap, inst.on_swap)
    if rt.show.performance.link and rt.opts.replay is None:
        inst.link = build_link(rt.hooks.events)
    audio = rt.show.performance.audio
    if audio.enabled and rt.opts.replay is None:
        inst.audio = AudioInput(rt.hooks.events, audio.device, audio.samplerate, audio.block)
    if rt.opts.progress and rt.opts.frames:
        inst.progress = RenderProgress(rt.opts.frames)
        h.on_status = (*h.on_status, inst.progress)
    return inst


def connect_show_file(rt: ShowRuntime) -> Service | None:
    """The show file on disk (live/showfile.py): an edit that breaks it shows on the HUD.
    Not when kiosk.reload is on: kiosk/reload.py watches it then, and applies valid edits."""
    if rt.opts.show_path is None or rt.show.kiosk.reload:
        return None
    watch = ShowFileWatch(rt.opts.show_path, rt.stats)
    rt.hooks.hud_lines = (*rt.hooks.hud_lines, watch.hud_lines)
    return watch


def connect_kiosk(rt: ShowRuntime) -> Service | None:
    """Frame guard and recovery always; under the supervisor heartbeat, saved state and the
    log file; the health endpoint when configured (kiosk/)."""
    show, opts = rt.show, rt.opts
    trainers = [s.trainer for s in rt.services if getattr(s, "trainer", None) is not None]
    receivers = [s.receiver for s in rt.services if getattr(s, "receiver", None) is not None]
    log_file = show.resolve(show.kiosk.log.file) if show.kiosk.log.file else None
    service = KioskService(
        show.kiosk,
        state_dir=state_dir(show),
        log_file=log_file,
        spec=opts.kiosk,
        restored=opts.restored,
        first_model=rt.model,
        trainer_state=(lambda: vars(trainers[0].status)) if trainers else None,
        inputs=(lambda: {"osc": dict(receivers[0].published)}) if receivers else None,
    )
    service.loop = rt.loop
    h = rt.hooks
    h.guard = service.after_frame
    h.on_status = (*h.on_status, service.on_status)
    k = show.kiosk
    attract = None
    if k.attract.after_min is not None:
        attract = AttractMode(k.attract, show.scenes, rt.instrument)
        h.mappers = (*h.mappers, attract.seen)
        h.tasks = (*h.tasks, attract.apply)
        h.hud_lines = (*h.hud_lines, attract.hud_lines)
    if k.schedule.hours or k.schedule.restart_at:
        shares = [schedule_share(t, show, k.schedule.training_threads) for t in trainers]
        schedule = Schedule(k.schedule, restart=opts.kiosk is not None, on_hours=shares)
        h.tasks = (*h.tasks, schedule.apply)
        h.hud_lines = (*h.hud_lines, schedule.hud_lines)
    if opts.show_path is not None and show.kiosk.reload:
        service.reloader = ShowReloader(
            opts.show_path,
            show,
            REGISTRY,
            stats=rt.stats,
            osc=next((s for s in rt.services if hasattr(s, "receiver")), None),
            midi=next((s for s in rt.services if hasattr(s, "remap")), None),
            instrument=rt.instrument,
            attract=attract,
        )
        h.tasks = (*h.tasks, service.reloader.apply)
        h.hud_lines = (*h.hud_lines, service.reloader.hud_lines)
    return service


# In start order (stopped in reverse). A new service adds its connect function here.
SERVICES: list[Callable[[ShowRuntime], Service | None]] = [
    connect_outputs,
    connect_osc,
    connect_midi,
    connect_live,
    connect_instruments,
    connect_show_file,
    connect_kiosk,
]


def run_show(show: Show, opts: RunOptions) -> int:
    """Play a show until it is quit or its frame/second budget ends; returns frames shown."""
    runtime = ShowRuntime(show, opts)
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        log.info(
            "playing %s on %s (%s), %dx%d",
            runtime.model.id,
            runtime.device,
            runtime.dtype,
            *runtime.display.size,
        )
        return loop.run()
    finally:
        runtime.close()
