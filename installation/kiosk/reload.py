"""Live reload of show.yaml and the scene file: edit them while the show plays.

A thread looks at both files once a second. An edit that does not load (bad YAML, a
typo'd key, a value out of range, a MIDI mapping naming a scene that is not there) is
rejected: the error goes to the log and the HUD, a `show_file_invalid` stats event is
written, and the running show is untouched. A valid edit is compared with what plays, and
what can change live is handed to the render thread whole (a `ReloadPlan`), which applies
it at the next frame boundary:

- parameters: smoothing and defaults (a changed default becomes the target);
- navigator: speed and truncation become targets; a new seed, mode or easing crossfades
  from the old walk to the new one (hotswap.crossfade_s) instead of jumping;
- display: hud, fit, filter; hotswap.crossfade_s;
- osc.mappings: a new address space for the receiver (the OSCQuery tree keeps the old one
  until a restart);
- midi.mappings, midi.takeover and scenes: every MIDI device's bindings rebuilt (profiles
  re-read), program changes recall the new scenes, and so does attract mode;
- performance: morph_s, quantize, beats_per_bar, loop_spline, envelopes and scene_file
  (instruments/reconfigure.py);
- the scene file itself (performance.scene_file), edited by hand: the scene book is read
  back; the show's own saves of it are recognised and not reloaded.

Everything else (the model, sizes, ports, MIDI devices, audio, Link, training, kiosk...)
is named on the HUD and in the log as needing a restart; under `--kiosk`, restarting is one
`systemctl restart` away. LIVE_KEYS below is the list docs and tests go by.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installation.config.base import ShowError
from installation.config.show import Show, load_show
from installation.control.midi.config import MidiSetup, load_setup
from installation.control.osc.space import AddressSpace
from installation.instruments.reconfigure import reconfigure, replace_book
from installation.instruments.scenes import SceneBook, load_scenes
from installation.navigator import Navigator
from installation.params import Registry

if TYPE_CHECKING:
    from installation.instruments.instrument import Instrument
    from installation.render.loop import RenderLoop

log = logging.getLogger(__name__)

LIVE_DISPLAY = ("hud", "fit", "filter")
# What applies live, by section: a whole section (True) or these keys of it.
LIVE_KEYS: dict[str, bool | tuple[str, ...]] = {
    "parameters": True,
    "navigator": True,
    "scenes": True,
    "display": LIVE_DISPLAY,
    "hotswap": ("crossfade_s",),
    "osc": ("mappings",),
    "midi": ("mappings", "takeover"),
    "performance": (
        "scene_file",
        "morph_s",
        "quantize",
        "beats_per_bar",
        "loop_spline",
        "envelopes",
    ),
}
HUD_SECONDS = 10.0


@dataclass(frozen=True)
class ReloadPlan:
    show: Show
    registry: Registry | None = None
    targets: dict[str, float] = field(default_factory=dict)
    navigator: bool = False
    display: dict[str, Any] = field(default_factory=dict)
    crossfade_s: float | None = None
    osc_mappings: bool = False
    midi: bool = False  # midi.mappings/takeover or scenes: the MIDI service's tables
    scenes: bool = False  # show.yaml's scenes: (MIDI program changes, attract mode)
    performance: bool = False
    scene_file: bool = False  # performance.scene_file moved: `book` is the new file's
    book: SceneBook | None = None  # the scene book read back (checked on the reload thread)
    midi_setup: MidiSetup | None = None
    applied: tuple[str, ...] = ()
    needs_restart: tuple[str, ...] = ()
    source: str = "show.yaml"  # the file the edit was in


def _sections(show: Show) -> dict[str, Any]:
    return show.model_dump(mode="json", exclude={"base_dir"})


def _changed(a: dict[str, Any], b: dict[str, Any], section: str) -> list[str]:
    """The live keys of `section` that differ."""
    live = LIVE_KEYS.get(section, ())
    if live is True:
        return [section] if a[section] != b[section] else []
    assert isinstance(live, tuple)
    return [f"{section}.{k}" for k in live if a[section][k] != b[section][k]]


def _restart_only(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for section in b:
        x, y, live = a[section], b[section], LIVE_KEYS.get(section, ())
        if live is True:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            out += [f"{section}.{k}" for k in y if k not in live and x.get(k) != y.get(k)]
        elif x != y:
            out.append(section)
    return out


def plan_reload(old: Show, new: Show, registry: Registry) -> ReloadPlan:
    """What of `new` can be applied live to a show playing `old` (pure)."""
    a, b = _sections(old), _sections(new)
    changed = {s: _changed(a, b, s) for s in LIVE_KEYS}
    registry_out, targets = None, {}
    if (
        changed["parameters"]
        or changed["navigator"]
        or "display.hud" in changed["display"]
        or "performance.morph_s" in changed["performance"]  # the default of morph.time
    ):
        base = registry.with_overrides(new.param_overrides())
        old_base = registry.with_overrides(old.param_overrides())
        registry_out = base
        targets = {
            n: p.default for n, p in base.params.items() if p.default != old_base.params[n].default
        }
    navigator = any(a["navigator"][k] != b["navigator"][k] for k in ("seed", "mode", "easing"))
    display = {k: b["display"][k] for k in LIVE_DISPLAY if a["display"][k] != b["display"][k]}
    applied = changed["parameters"] + changed["navigator"]
    if display:
        applied.append("display." + "/".join(display))
    applied += changed["hotswap"] + changed["osc"] + changed["scenes"]
    applied += changed["midi"] + changed["performance"]
    crossfade = b["hotswap"]["crossfade_s"] if changed["hotswap"] else None
    return ReloadPlan(
        show=new,
        registry=registry_out,
        targets=targets,
        navigator=navigator,
        display=display,
        crossfade_s=crossfade,
        osc_mappings=bool(changed["osc"]),
        midi=bool(changed["midi"] or changed["scenes"]),
        scenes=bool(changed["scenes"]),
        performance=bool(changed["performance"]),
        scene_file="performance.scene_file" in changed["performance"],
        applied=tuple(applied),
        needs_restart=tuple(_restart_only(a, b)),
    )


def remap_osc(server: Any, registry: Registry, mappings: Any) -> None:
    """A new address space for the OSC receiver, swapped in whole (its thread reads the
    attribute once per message)."""
    space = AddressSpace(registry, mappings)
    server.space = space
    server.receiver.space = space


class ShowReloader:
    """The watching thread (start/stop) and the render thread's `apply` hook. The parts an
    edit reaches are given when they play: the OSC server, the MIDI service, the
    instrument (performance and scene file), attract mode (scenes)."""

    def __init__(
        self,
        path: Path,
        show: Show,
        registry: Registry,
        *,
        stats: Any,
        osc: Any = None,
        midi: Any = None,
        instrument: Instrument | None = None,
        attract: Any = None,
        poll_s: float = 1.0,
    ) -> None:
        self.path, self.show, self.base_registry = path, show, registry
        self.stats, self.osc, self.poll_s = stats, osc, poll_s
        self.midi, self.instrument, self.attract = midi, instrument, attract
        self.reloads = self.rejects = 0
        self._plans: queue.Queue[ReloadPlan] = queue.Queue()
        self._signature = self._stat(path)
        self._scene_signature = self._stat(self._scene_path())
        self._hud: tuple[str, ...] = ()
        self._hud_until = float("inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _stat(path: Path | None) -> tuple[float, int] | None:
        try:
            st = path.stat() if path is not None else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st is not None else None

    def _scene_path(self) -> Path | None:
        return self.instrument.desk.book.path if self.instrument is not None else None

    # -- the watching thread ------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="show-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.check()

    def check(self) -> None:
        signature = self._stat(self.path)
        if signature is not None and signature != self._signature:
            self._signature = signature
            self._check_show()
            return
        scenes = self._stat(self._scene_path())  # a removed scene file is ignored
        if scenes is not None and scenes != self._scene_signature:
            self._scene_signature = scenes
            self._check_scene_file()

    def _reject(self, what: str, path: Path, exc: ShowError) -> None:
        self.rejects += 1
        message = str(exc).splitlines()[0]
        log.error("%s edit rejected, the show plays on unchanged: %s", what, exc)
        self.stats.event("show_file_invalid", path=str(path), error=str(exc))
        self._set_hud((f"{what} rejected: {message}"[:160],), forever=True)

    def _book(self, path: Path) -> SceneBook:
        inst = self.instrument
        assert inst is not None
        desk = inst.desk
        return load_scenes(path, inst.registry, desk.latent_dim, desk.model_id, desk.model_sha)

    def _check_show(self) -> None:
        try:
            new = load_show(self.path)
            plan = plan_reload(self.show, new, self.base_registry)
            if plan.midi and self.midi is not None:
                plan = replace(plan, midi_setup=load_setup(new))
            if plan.scene_file and self.instrument is not None:
                path = new.resolve(new.performance.scene_file)
                plan = replace(plan, book=self._book(path))
                self._scene_signature = self._stat(path)
        except ShowError as exc:
            self._reject("show.yaml", self.path, exc)
            return
        self.show = new
        if not plan.applied and not plan.needs_restart:
            self._set_hud(())
            return
        self._plans.put(plan)

    def _check_scene_file(self) -> None:
        path = self._scene_path()
        assert path is not None and self.instrument is not None
        try:
            if self.instrument.desk.writer.wrote(path.read_bytes()):
                return  # the show's own save (store, rename, delete)
            book = self._book(path)
        except OSError:
            return  # gone or unreadable between the look and the read: the next look
        except ShowError as exc:
            self._reject(path.name, path, exc)
            return
        counts = f"{len(book.scenes)} scene(s), {len(book.keyframes)} keyframe(s)"
        self._plans.put(ReloadPlan(show=self.show, book=book, applied=(counts,), source=path.name))

    def _set_hud(self, lines: tuple[str, ...], forever: bool = False) -> None:
        self._hud = lines
        self._hud_until = float("inf") if forever else time.monotonic() + HUD_SECONDS

    def hud_lines(self) -> tuple[str, ...]:
        return self._hud if time.monotonic() < self._hud_until else ()

    # -- on the render thread -----------------------------------------------------------
    def apply(self, loop: RenderLoop) -> None:
        try:
            plan = self._plans.get_nowait()
        except queue.Empty:
            return
        now = loop.clock.now()
        if plan.registry is not None:
            loop.registry = plan.registry
            loop.targets = {**loop.targets, **plan.targets}
        if plan.navigator:
            self._new_walk(loop, plan.show, now)
        if plan.display:
            loop.display.settings = replace(
                loop.display.settings, **{k: v for k, v in plan.display.items() if k != "hud"}
            )
        if plan.crossfade_s is not None:
            loop.settings.crossfade_s = plan.crossfade_s
        if plan.osc_mappings and self.osc is not None:
            remap_osc(self.osc, loop.registry, plan.show.osc.mappings)
        if plan.midi_setup is not None and self.midi is not None:
            self.midi.remap(plan.show.midi, plan.midi_setup, plan.show.scenes)
        if plan.scenes and self.attract is not None:
            self.attract.set_scenes(plan.show.scenes)
        if plan.performance and self.instrument is not None:
            reconfigure(self.instrument, plan.show.performance)
        if plan.book is not None and self.instrument is not None:
            replace_book(self.instrument, plan.book, loop.targets, now)
        self._report(plan, now)

    def _new_walk(self, loop: RenderLoop, show: Show, now: float) -> None:
        nav, old = show.navigator, loop.navigator
        loop.navigator = Navigator(loop.renderer.model.latent_dim, nav.seed, nav.mode, nav.easing)
        if loop.settings.crossfade_s > 0 and loop._fade_start is None:  # glide from the old walk
            loop._previous_navigator, loop.renderer.previous, loop._fade_start = (
                old,
                loop.renderer.model,
                now,
            )

    def _report(self, plan: ReloadPlan, now: float) -> None:
        self.reloads += 1
        lines = []
        what = plan.source
        if plan.applied:
            lines.append(f"{what} applied: " + ", ".join(plan.applied))
            log.info("%s reloaded live: %s", what, ", ".join(plan.applied))
        if plan.needs_restart:
            lines.append("show.yaml: restart to apply " + ", ".join(plan.needs_restart))
            log.warning(
                "show.yaml changes that need a restart (they wait until then): %s",
                ", ".join(plan.needs_restart),
            )
        self._set_hud(tuple(line[:160] for line in lines))
        self.stats.event(
            "show_reloaded",
            t=now,
            applied=list(plan.applied),
            needs_restart=list(plan.needs_restart),
        )
