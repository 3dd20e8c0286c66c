"""Live reload of show.yaml: edit the file while the show plays.

A thread looks at the file once a second. An edit that does not load (bad YAML, a typo'd
key, a value out of range) is rejected: the error goes to the log and the HUD, a
`show_file_invalid` stats event is written, and the running show is untouched. A valid edit is
compared with what plays, and what can change live is handed to the render thread whole
(a `ReloadPlan`), which applies it at the next frame boundary:

- parameters: smoothing and defaults (a changed default becomes the target);
- navigator: speed and truncation become targets; a new seed, mode or easing crossfades
  from the old walk to the new one (hotswap.crossfade_s) instead of jumping;
- display: hud, fit, filter; hotswap.crossfade_s;
- osc.mappings: a new address space for the receiver (the OSCQuery tree keeps the old one
  until a restart).

Everything else (the model, sizes, ports, MIDI, training...) is named on the HUD and in the
log as needing a restart; under `--kiosk`, restarting is one `systemctl restart` away.
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
from installation.control.osc.space import AddressSpace
from installation.navigator import Navigator
from installation.params import Registry

if TYPE_CHECKING:
    from installation.render.loop import RenderLoop

log = logging.getLogger(__name__)

LIVE_DISPLAY = ("hud", "fit", "filter")
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
    applied: tuple[str, ...] = ()
    needs_restart: tuple[str, ...] = ()


def _sections(show: Show) -> dict[str, Any]:
    return show.model_dump(mode="json", exclude={"base_dir"})


def plan_reload(old: Show, new: Show, registry: Registry) -> ReloadPlan:
    """What of `new` can be applied live to a show playing `old` (pure)."""
    a, b = _sections(old), _sections(new)
    applied: list[str] = []
    registry_out, targets = None, {}
    if (
        a["parameters"] != b["parameters"]
        or a["navigator"] != b["navigator"]
        or a["display"]["hud"] != b["display"]["hud"]
    ):
        base = registry.with_overrides(new.param_overrides())
        old_base = registry.with_overrides(old.param_overrides())
        registry_out = base
        targets = {
            n: p.default for n, p in base.params.items() if p.default != old_base.params[n].default
        }
        if a["parameters"] != b["parameters"]:
            applied.append("parameters")
    navigator = any(a["navigator"][k] != b["navigator"][k] for k in ("seed", "mode", "easing"))
    if a["navigator"] != b["navigator"]:
        applied.append("navigator")
    display = {k: b["display"][k] for k in LIVE_DISPLAY if a["display"][k] != b["display"][k]}
    if display:
        applied.append("display." + "/".join(display))
    crossfade = (
        b["hotswap"]["crossfade_s"]
        if a["hotswap"]["crossfade_s"] != b["hotswap"]["crossfade_s"]
        else None
    )
    if crossfade is not None:
        applied.append("hotswap.crossfade_s")
    osc = a["osc"]["mappings"] != b["osc"]["mappings"]
    if osc:
        applied.append("osc.mappings")
    restart = []
    for section in b:
        x, y = a[section], b[section]
        if section in ("parameters", "navigator"):
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            skip = {"display": LIVE_DISPLAY, "hotswap": ("crossfade_s",), "osc": ("mappings",)}.get(
                section, ()
            )
            restart += [f"{section}.{k}" for k in y if k not in skip and x.get(k) != y.get(k)]
        elif x != y:
            restart.append(section)
    return ReloadPlan(
        show=new,
        registry=registry_out,
        targets=targets,
        navigator=navigator,
        display=display,
        crossfade_s=crossfade,
        osc_mappings=osc,
        applied=tuple(applied),
        needs_restart=tuple(restart),
    )


def remap_osc(server: Any, registry: Registry, mappings: Any) -> None:
    """A new address space for the OSC receiver, swapped in whole (its thread reads the
    attribute once per message)."""
    space = AddressSpace(registry, mappings)
    server.space = space
    server.receiver.space = space


class ShowReloader:
    """The watching thread (start/stop) and the render thread's `apply` hook."""

    def __init__(
        self,
        path: Path,
        show: Show,
        registry: Registry,
        *,
        stats: Any,
        osc: Any = None,
        poll_s: float = 1.0,
    ) -> None:
        self.path, self.show, self.base_registry = path, show, registry
        self.stats, self.osc, self.poll_s = stats, osc, poll_s
        self.reloads = self.rejects = 0
        self._plans: queue.Queue[ReloadPlan] = queue.Queue()
        self._signature = self._stat()
        self._hud: tuple[str, ...] = ()
        self._hud_until = float("inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _stat(self) -> tuple[float, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

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
        signature = self._stat()
        if signature is None or signature == self._signature:
            return
        self._signature = signature
        try:
            new = load_show(self.path)
        except ShowError as exc:
            self.rejects += 1
            message = str(exc).splitlines()[0]
            log.error("show.yaml edit rejected, the show plays on unchanged: %s", exc)
            self.stats.event("show_file_invalid", path=str(self.path), error=str(exc))
            self._set_hud((f"show.yaml rejected: {message}"[:160],), forever=True)
            return
        plan = plan_reload(self.show, new, self.base_registry)
        self.show = new
        if not plan.applied and not plan.needs_restart:
            self._set_hud(())
            return
        self._plans.put(plan)

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
            nav, old = plan.show.navigator, loop.navigator
            loop.navigator = Navigator(
                loop.renderer.model.latent_dim, nav.seed, nav.mode, nav.easing
            )
            if (
                loop.settings.crossfade_s > 0 and loop._fade_start is None
            ):  # glide from the old walk
                loop._previous_navigator, loop.renderer.previous, loop._fade_start = (
                    old,
                    loop.renderer.model,
                    now,
                )
        if plan.display:
            loop.display.settings = replace(
                loop.display.settings, **{k: v for k, v in plan.display.items() if k != "hud"}
            )
        if plan.crossfade_s is not None:
            loop.settings.crossfade_s = plan.crossfade_s
        if plan.osc_mappings and self.osc is not None:
            remap_osc(self.osc, loop.registry, plan.show.osc.mappings)
        self.reloads += 1
        lines = []
        if plan.applied:
            lines.append("show.yaml applied: " + ", ".join(plan.applied))
            log.info("show.yaml reloaded live: %s", ", ".join(plan.applied))
        if plan.needs_restart:
            lines.append("show.yaml: restart to apply " + ", ".join(plan.needs_restart))
            log.warning("show.yaml changes that need a restart: %s", ", ".join(plan.needs_restart))
        self._set_hud(tuple(line[:160] for line in lines))
        self.stats.event(
            "show_reloaded",
            t=now,
            applied=list(plan.applied),
            needs_restart=list(plan.needs_restart),
        )
