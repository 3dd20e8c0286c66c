"""The parameter registry: the single source of truth for what can be controlled.

Every knob the show exposes is a `Param` (a value with a range that slews smoothly toward
its target) or an `Action` (a trigger). The OSC address space, MIDI learn targets, the HUD
and the docs are generated from here, so adding a line here adds it everywhere.

Applying events and slewing are pure functions of (registry, state, events, dt), so the
render loop and its tests are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from installation.events import ControlEvent

ParamKind = Literal["float", "int", "bool"]


def address_of(name: str) -> str:
    """The stable OSC address of a registry name: "walk.speed" -> "/walk/speed"."""
    return "/" + name.replace(".", "/")


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    minimum: float
    maximum: float
    unit: str = ""
    # Time constant in seconds of the exponential slew toward the target; 0 = instant.
    smoothing: float = 0.0
    kind: ParamKind = "float"
    description: str = ""

    @property
    def address(self) -> str:
        return address_of(self.name)

    def clamp(self, value: float) -> float:
        if not math.isfinite(value):
            return self.default
        value = min(self.maximum, max(self.minimum, value))
        if self.kind == "int":
            return float(round(value))
        if self.kind == "bool":
            return 1.0 if value >= 0.5 else 0.0
        return value

    def from_normalized(self, x: float) -> float:
        return self.minimum + (self.maximum - self.minimum) * x

    def to_normalized(self, value: float) -> float:
        span = self.maximum - self.minimum
        return 0.0 if span == 0 else (value - self.minimum) / span


@dataclass(frozen=True)
class Action:
    name: str
    description: str = ""
    # False for actions only the local keyboard may trigger (quitting the show).
    remote: bool = True
    # True for actions that carry a number (a scene or keyframe slot, a tempo): OSC passes
    # its first argument through; without one the value is NaN ("none given").
    takes_value: bool = False

    @property
    def address(self) -> str:
        return address_of(self.name)


DEFAULT_PARAMS: tuple[Param, ...] = (
    Param(
        "walk.speed",
        0.25,
        -2.0,
        2.0,
        "keyframes/s",
        0.5,
        description="How fast the latent walk moves; negative walks backwards.",
    ),
    Param(
        "walk.paused",
        0.0,
        0.0,
        1.0,
        "",
        0.4,
        "bool",
        description="Pause the walk (eases to a stop and back).",
    ),
    Param(
        "latent.truncation",
        0.8,
        0.0,
        2.0,
        "x",
        0.3,
        description="Scale of the latent vector: low is tame and typical, high is wild.",
    ),
    Param(
        "output.brightness",
        1.0,
        0.0,
        1.0,
        "",
        0.5,
        description="Master fade: 0 is black, 1 is full picture.",
    ),
    Param(
        "hud.visible",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        "bool",
        description="Show the heads-up display (fps, timings, model).",
    ),
    Param(
        "walk.sync",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        "bool",
        description="Lock the walk to incoming MIDI clock: a keyframe every walk.beats beats.",
    ),
    Param(
        "walk.beats",
        4.0,
        1.0,
        64.0,
        "beats",
        0.0,
        "int",
        description="Beats per keyframe when the walk follows MIDI clock.",
    ),
    Param(
        "model.pinned",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        "bool",
        description="Keep the model that is playing: new checkpoints wait until unpinned.",
    ),
    Param(
        "training.paused",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        "bool",
        description="Pause the background trainer (it resumes where it stopped).",
    ),
    # Style-based and few-shot models only (others ignore them); latent.truncation is psi for StyleGAN.
    Param(
        "style.mix",
        0.0,
        0.0,
        1.0,
        "",
        0.5,
        description="Style mixing: StyleGAN fades in a second latent's styles from style.crossover on; "
        "a few-shot model wears the colour and texture of a latent further along the walk.",
    ),
    Param(
        "style.crossover",
        6.0,
        0.0,
        17.0,
        "layer",
        0.0,
        "int",
        description="StyleGAN style mixing: the first layer that takes the second latent's style.",
    ),
    Param(
        "noise.strength",
        1.0,
        0.0,
        2.0,
        "x",
        0.3,
        description="Injected noise of StyleGAN and few-shot models, their fine grain (1 = as trained, 0 = none).",
    ),
    Param(
        "noise.random",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        "bool",
        description="StyleGAN noise: fresh every frame (shimmer) instead of the model's fixed noise.",
    ),
    Param(
        "transform.rotate",
        0.0,
        -180.0,
        180.0,
        "degrees",
        0.5,
        description="StyleGAN3: rotate the picture (turns its Fourier features, no texture sticking).",
    ),
    Param(
        "transform.x",
        0.0,
        -1.0,
        1.0,
        "image widths",
        0.5,
        description="StyleGAN3: shift the picture horizontally.",
    ),
    Param(
        "transform.y",
        0.0,
        -1.0,
        1.0,
        "image heights",
        0.5,
        description="StyleGAN3: shift the picture vertically.",
    ),
)

# Performance instruments (installation/instruments/): loops, drift, jitter, morphs, tempo,
# inputs for envelope followers.
PERFORMANCE_PARAMS: tuple[Param, ...] = (
    Param(
        "loop.on",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        "bool",
        description="Loop through the stored keyframes instead of walking (first and last frames meet).",
    ),
    Param(
        "loop.period",
        16.0,
        0.5,
        600.0,
        "s",
        0.0,
        description="Seconds for one turn of the loop (when not synced to the tempo).",
    ),
    Param(
        "loop.sync",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        "bool",
        description="Time the loop in beats of the show's tempo (loop.beats a turn).",
    ),
    Param(
        "loop.beats",
        16.0,
        1.0,
        256.0,
        "beats",
        0.0,
        "int",
        description="Beats for one turn of the loop when loop.sync is on.",
    ),
    Param(
        "drift.speed",
        0.1,
        0.0,
        4.0,
        "cycles/s",
        0.5,
        description="How fast the noise walk around the current point moves.",
    ),
    Param(
        "drift.temperature",
        0.0,
        0.0,
        2.0,
        "",
        0.5,
        description="How far the noise walk strays (0 = off; 1 = as far as a fresh latent).",
    ),
    Param(
        "jitter.amount",
        0.0,
        0.0,
        1.0,
        "",
        0.05,
        description="Random shake of the latent, a fresh draw jitter.rate times a second.",
    ),
    Param(
        "jitter.rate",
        12.0,
        1.0,
        60.0,
        "Hz",
        0.0,
        description="How often the jitter draws a new offset.",
    ),
    Param(
        "morph.time",
        4.0,
        0.0,
        60.0,
        "s",
        0.0,
        description="Seconds a scene or keyframe recall morphs (ends on the beat or bar with a tempo).",
    ),
    Param(
        "projection.progress",
        0.0,
        0.0,
        1.0,
        "",
        0.0,
        description="How far an image keyframe's projection has got (set by the show; controllers see it).",
    ),
    *(
        Param(
            f"direction.{i}",
            0.0,
            -3.0,
            3.0,
            "sigma",
            0.3,
            description=f"Push along the model's direction {i} (installation directions MODEL).",
        )
        for i in range(1, 9)
    ),
    *(
        Param(
            f"signal.{i}",
            0.0,
            0.0,
            1.0,
            "",
            0.0,
            description=f"Input {i} for envelope followers (map an audio level onto it).",
        )
        for i in range(1, 5)
    ),
)

DEFAULT_ACTIONS: tuple[Action, ...] = (
    Action("screenshot", "Save the current frame as a PNG."),
    Action("display.fullscreen", "Toggle full screen."),
    Action("cue.next", "Cut to the next keyframe of the walk (a cue for the next scene)."),
    Action("cue.previous", "Cut back to the previous keyframe of the walk."),
    Action("model.previous", "Step back to the model that played before this one (and pin it)."),
    Action("model.latest", "Unpin and play the newest validated model."),
    Action("quit", "Stop the show.", remote=False),
    Action(
        "learn", "MIDI learn: arm it for the next parameter; the next control moved maps to it."
    ),
    Action("learn.cancel", "Disarm MIDI learn."),
)

PERFORMANCE_ACTIONS: tuple[Action, ...] = (
    Action("keyframe.store", "Add the current position to the loop's keyframes."),
    Action(
        "keyframe.seed", "Add the keyframe a seed names (argument: the seed).", takes_value=True
    ),
    Action(
        "keyframe.recall",
        "Morph to keyframe N and loop on from it (argument: N, from 1).",
        takes_value=True,
    ),
    Action(
        "keyframe.delete", "Delete keyframe N (argument; none: the last one).", takes_value=True
    ),
    Action("keyframe.clear", "Delete all keyframes."),
    Action(
        "keyframe.image",
        "Add a keyframe from an image file (argument: its path): a VAE encodes it, a GAN projects it.",
        takes_value=True,
    ),
    Action(
        "scene.store",
        "Store the whole state as scene N (argument; none: a new scene at the end).",
        takes_value=True,
    ),
    Action("scene.rename", "Rename scene N (arguments: N and the new name).", takes_value=True),
    Action("scene.delete", "Delete scene N (argument; none: the current one).", takes_value=True),
    Action("cue.go", "Morph to the next scene of the cue list."),
    Action("cue.back", "Morph to the previous scene of the cue list."),
    Action("cue.jump", "Morph to scene N of the cue list (argument: N, from 1).", takes_value=True),
    Action("tempo", "Set the tempo (argument: beats per minute).", takes_value=True),
    Action(
        "beat",
        "A beat falls now (argument: its number; none: the nearest whole beat).",
        takes_value=True,
    ),
    Action("tempo.tap", "Tap tempo: two or more taps set the tempo; a lone tap is ignored."),
)


@dataclass(frozen=True)
class Registry:
    params: Mapping[str, Param]
    actions: Mapping[str, Action] = field(default_factory=dict)

    @classmethod
    def build(cls, params: Iterable[Param], actions: Iterable[Action]) -> Registry:
        return cls({p.name: p for p in params}, {a.name: a for a in actions})

    def names(self) -> list[str]:
        return sorted([*self.params, *self.actions])

    def with_overrides(self, overrides: Mapping[str, Mapping[str, float]]) -> Registry:
        """A copy with some params' default/smoothing replaced (from show.yaml)."""
        params = dict(self.params)
        for name, fields in overrides.items():
            params[name] = replace(params[name], **fields)
            params[name] = replace(params[name], default=params[name].clamp(params[name].default))
        return Registry(params, self.actions)

    def initial_values(self) -> dict[str, float]:
        return {name: p.default for name, p in self.params.items()}


REGISTRY = Registry.build(
    (*DEFAULT_PARAMS, *PERFORMANCE_PARAMS), (*DEFAULT_ACTIONS, *PERFORMANCE_ACTIONS)
)


def apply_events(
    registry: Registry, targets: Mapping[str, float], events: Iterable[ControlEvent]
) -> tuple[dict[str, float], list[ControlEvent]]:
    """New targets after `events` (in order, the latest absolute value per target wins),
    and the action events to run. Unknown targets are ignored: the mapping layer counts them.
    """
    new_targets = dict(targets)
    actions: list[ControlEvent] = []
    for event in events:
        param = registry.params.get(event.target)
        if param is None:
            if event.target in registry.actions:
                actions.append(event)
            continue
        value = param.from_normalized(event.value) if event.normalized else event.value
        if event.relative:
            if param.kind == "bool":
                value = 1.0 - new_targets[param.name]
            else:
                step = value - param.minimum if event.normalized else value
                value = new_targets[param.name] + step
        new_targets[param.name] = param.clamp(value)
    return new_targets, actions


def smooth(current: float, goal: float, dt: float, tau: float, snap: float | None = None) -> float:
    """One step of an exponential approach with time constant `tau` seconds; frame-rate
    independent, and onto the goal once within `snap` (default: a millionth of the goal's
    size, at least 1e-6). The one smoothing: parameters' slew, OSC and MIDI glides."""
    if tau <= 0 or dt <= 0:
        return goal if tau <= 0 else current
    nxt = current + (goal - current) * (1.0 - math.exp(-dt / tau))
    tolerance = 1e-6 * max(1.0, abs(goal)) if snap is None else snap
    return goal if abs(goal - nxt) <= tolerance else nxt


def slew(
    registry: Registry, values: Mapping[str, float], targets: Mapping[str, float], dt: float
) -> dict[str, float]:
    """Move each value toward its target with its smoothing time constant (frame-rate
    independent exponential approach), so a jumped knob never jumps the picture."""
    out: dict[str, float] = {}
    for name, param in registry.params.items():
        snap = 1e-6 * max(1.0, param.maximum - param.minimum)
        out[name] = smooth(values[name], targets[name], dt, param.smoothing, snap)
    return out
