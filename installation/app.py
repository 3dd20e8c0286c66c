"""The composition root: builds a running show from a Show config and run options.

Order matters and is the point of this module: validate everything that can be wrong with
the user's files (show, model) before any window opens or port is bound; then open the
display; then start background services; run the loop on the main thread; stop services in
reverse order however the loop ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from installation.checkpoints import CheckpointError, LoadedModel, load_checkpoint
from installation.clock import FixedStepClock, MonotonicClock
from installation.control.midi import midi_service_factory
from installation.control.osc import osc_service
from installation.display import DisplayError, DisplaySettings, PygameDisplay
from installation.hotswap import OneDecodeFader
from installation.live import live_models_factory
from installation.loop import LoopHooks, LoopSettings, RenderLoop
from installation.navigator import Navigator
from installation.params import REGISTRY, Registry
from installation.pipeline import default_workers
from installation.renderer import FrameRenderer, choose_device, choose_dtype
from installation.show import Show
from installation.stats import StatsWriter

log = logging.getLogger(__name__)


class UserError(Exception):
    """Something the operator can fix; the CLI prints it without a traceback, exit 2."""


class Service(Protocol):
    """A background part of the show (OSC server, MIDI input, trainer, watcher)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


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


# Services are added by the subsystems that own them: each factory gets the show, the
# registry and the loop hooks, and returns a service (or None when its section is off).
ServiceFactory = Callable[[Show, Registry, LoopHooks, StatsWriter], "Service | None"]
SERVICE_FACTORIES: list[ServiceFactory] = [
    osc_service,  # OSC over UDP/TCP and OSCQuery (control/osc.py)
    midi_service_factory,  # MIDI controllers, clock, learn (control/midi.py)
]
SERVICE_FACTORIES.append(live_models_factory)  # hotswap: watcher, validation, trainer


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


def load_model(show: Show, device: torch.device) -> LoadedModel:
    folder = show.resolve(show.model.path)
    try:
        return load_checkpoint(folder, device)
    except CheckpointError as exc:
        raise UserError(f"model: {exc}") from None


def display_settings(show: Show, opts: RunOptions) -> DisplaySettings:
    d = show.display
    size = opts.size or (None if d.size == "desktop" else tuple(d.size))
    return DisplaySettings(
        size=size, fullscreen=d.fullscreen and not opts.windowed and not opts.headless,
        display=d.display if opts.display is None else opts.display, vsync=d.vsync and not opts.headless,
        filter=d.filter, fit=d.fit, headless=opts.headless,
    )


class ShowRuntime:
    """Everything one running show owns, built in order, closed in reverse."""

    def __init__(self, show: Show, opts: RunOptions, registry: Registry = REGISTRY) -> None:
        self.show, self.opts = show, opts
        self.registry = registry.with_overrides(show.param_overrides())
        try:
            self.device = choose_device(opts.device or show.model.device)
        except RuntimeError as exc:
            raise UserError(str(exc)) from None
        self.dtype = choose_dtype(self.device, show.model.precision)
        self._saved_threads = torch.get_num_threads()  # process-wide: restored in close()
        self.model = load_model(show, self.device)
        self.stats = StatsWriter(opts.stats)
        self.hooks = LoopHooks()
        self.services: list[Service] = []
        self.display = PygameDisplay(display_settings(show, opts))
        try:
            self.display.open()
        except DisplayError as exc:
            self.stats.close()
            raise UserError(str(exc)) from None

    def build_loop(self) -> RenderLoop:
        show, opts = self.show, self.opts
        fps = show.display.fps if opts.fps is None else opts.fps
        # Upscale on the GPU before the copy when a smooth filter is asked for; on a CPU
        # pygame's scale into the window surface is ~20x cheaper than torch's interpolate.
        upscale = self.display.size if (self.device.type == "cuda" and show.display.filter != "nearest") else None
        pipelined = resolve_pipelined(show.display.pipeline, fps)
        if self.device.type == "cpu" and not pipelined:
            torch.set_num_threads(render_threads(show))
        renderer = FrameRenderer(
            self.model, self.device, self.dtype, self.display.layout, upscale_to=upscale,
            filter=show.display.filter, buffers=default_workers(self.device) + 1,
        )
        settings = LoopSettings(
            fps=fps, max_frames=opts.frames, max_seconds=opts.seconds, pipelined=pipelined,
            out_dir=opts.out, screenshot_dir=show.resolve(show.display.screenshots),
            crossfade_s=show.hotswap.crossfade_s,
        )
        self.hooks.prepare = renderer.prepare
        if self.device.type == "cpu" and not pipelined:  # two decodes a frame would not fit
            renderer.fader = OneDecodeFader()
        nav = show.navigator
        navigator = Navigator(self.model.latent_dim, nav.seed, nav.mode, nav.easing)
        clock = FixedStepClock() if opts.fixed_step else MonotonicClock()
        return RenderLoop(
            display=self.display, renderer=renderer, registry=self.registry, navigator=navigator,
            clock=clock, stats=self.stats, settings=settings, hooks=self.hooks,
        )

    def start_services(self) -> None:
        for factory in SERVICE_FACTORIES:
            service = factory(self.show, self.registry, self.hooks, self.stats)
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


def run_show(show: Show, opts: RunOptions) -> int:
    """Play a show until it is quit or its frame/second budget ends; returns frames shown."""
    runtime = ShowRuntime(show, opts)
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        log.info("playing %s on %s (%s), %dx%d", runtime.model.id, runtime.device, runtime.dtype,
                 *runtime.display.size)
        return loop.run()
    finally:
        runtime.close()
