"""The instrument: loops, drift, jitter, scenes, cues, tempo, envelopes, record and replay,
plugged into the render loop through four hooks (all on the main thread):

- `mapper`: replays due log lines, records every control event, runs the instrument's
  actions (scenes, cues, keyframes, tempo) and emits parameter targets (morphs, envelopes);
- `phase_sync`: restores a recalled scene's phase, times loops in seconds or beats, and
  locks the walk to an OSC or tap tempo (MIDI clock keeps its own sync);
- `latent`: replaces the walk's latent with the loop's, adds drift and jitter, morphs;
- `hud_lines`: tempo, scene, loop, notes.

OSC and MIDI mappings are never touched here: a recall changes parameter targets, the
walk's state and the keyframes, nothing else.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from installation.events import ControlEvent, Event
from installation.instruments.config import PerformanceConfig
from installation.instruments.desk import DESK_ACTIONS, SceneDesk, slot
from installation.instruments.envelope import EnvelopeBank
from installation.instruments.hud import hud_lines
from installation.instruments.images import ImageKeyframes
from installation.instruments.modes import drift_offset, jitter_offset, loop_latent, truncate
from installation.instruments.morph import Morph
from installation.instruments.record import Recorder, Replay
from installation.instruments.scenes import Scene, SceneBook
from installation.instruments.tempo import Tempo, locked_phase, quantized_end
from installation.instruments.tempo_sources import TEMPO_ACTIONS, ClockSource, TempoSources
from installation.navigator import Navigator
from installation.params import Registry

if TYPE_CHECKING:  # torch stays out of the instrument: directions arrive as numpy arrays
    from installation.checkpoints import LoadedModel
    from installation.instruments.audio import AudioInput
    from installation.instruments.directions import Directions
    from installation.instruments.link import LinkService

log = logging.getLogger(__name__)

NOTE_S = 5.0


def _amounts(d: Directions, values: Mapping[str, float]) -> np.ndarray:
    """direction.1 .. direction.k now, in sigmas."""
    return np.array([values.get(f"direction.{i + 1}", 0.0) for i in range(d.vectors.shape[0])])


class Instrument:
    def __init__(
        self,
        registry: Registry,
        config: PerformanceConfig,
        book: SceneBook,
        navigator: Navigator,
        model_id: str,
        *,
        recorder: Recorder | None = None,
        replay: Replay | None = None,
        midi_clock: ClockSource | None = None,
        directions: Directions | None = None,
        model: LoadedModel | None = None,
        base_dir: Path = Path("."),
    ) -> None:
        self.registry, self.config = registry, config
        self.nav = navigator
        self.desk = SceneDesk(book, navigator.latent_dim, model_id, self.note)
        self.tempo = Tempo()
        self.sources = TempoSources(self.tempo, self.note, recorder, midi_clock)
        self.recorder, self.replay = recorder, replay
        self.directions = directions
        self.model = model  # image keyframes project on (a copy of) it
        self.images = ImageKeyframes(self.note, base_dir)
        # Asks the live model service (live/service.py) for a scene's model: (id, folder,
        # sha256). None when hot-swap is off: a recall then plays on with the model it has.
        self.request_model: Callable[[str, str, str], None] | None = None
        # A recalled scene whose latents are another model's size: its walk waits for it.
        self.awaiting: Scene | None = None
        if model is not None:
            self.desk.model_folder = str(model.folder)
            self.desk.model_sha = model.card.sha256
        self.audio: AudioInput | None = None  # a local sound input, when performance.audio is on
        self.morph: Morph | None = None
        self.z_last: np.ndarray | None = None
        self.phase = 0.0  # the walk's phase as last seen (scenes store it)
        self._pending_phase: float | None = None
        self.t0: float | None = None
        self._last_now = 0.0
        self.values: Mapping[str, float] = {}
        self.t = 0.0  # show time of the last frame, seconds since the first
        self._latent_t: float | None = None
        self._drift_phase = 0.0
        self.envelopes = EnvelopeBank(registry, config.envelopes)
        self.notes: deque[tuple[float, str]] = deque(maxlen=6)
        self.progress: object | None = None  # an offline render's progress bar (closed at stop)
        self.frames = 0
        for line in book.skipped:
            self.note(f"scene skipped: {line}", 30.0)

    @property
    def link(self) -> LinkService | None:
        """Ableton Link, when performance.link is on (it hears the show's own tempo too)."""
        return self.sources.link

    @link.setter
    def link(self, link: LinkService | None) -> None:
        self.sources.link = link

    @property
    def midi_clock(self) -> ClockSource | None:
        return self.sources.midi_clock

    @midi_clock.setter
    def midi_clock(self, clock: ClockSource | None) -> None:
        self.sources.midi_clock = clock

    def note(self, text: str, seconds: float = NOTE_S) -> None:
        log.info("%s", text)
        self.notes.append((time.monotonic() + seconds, text))

    # -- 1: the mapper -------------------------------------------------------------------
    def mapper(self, events: list[Event], targets: Mapping[str, float], now: float) -> list[Event]:
        if self.t0 is None:
            self.t0 = self._last_now = now
        dt, self._last_now = max(0.0, now - self._last_now), now
        self.t = t = now - self.t0
        events = list(events)
        if self.replay is not None:
            events += self._replayed(t, now)
        self.sources.follow_midi_clock(t, now)
        if self.recorder is not None:
            for e in events:
                if isinstance(e, ControlEvent):
                    self.recorder.control(t, e)
        out: list[Event] = []
        current = dict(targets)
        for e in events:
            if not isinstance(e, ControlEvent):
                pass  # a clock tick or device notice no mapper took: not the instrument's
            elif e.target in TEMPO_ACTIONS:
                self.sources.action(e, now)
            elif e.target in DESK_ACTIONS:
                out += self._desk_action(e, current, now)
            elif e.target in self.registry.params and self.morph is not None:
                self.morph.release(e.target)  # a control moved during a morph wins
            out.append(e)
        out += self._morph_targets(now)
        out += self.envelopes.events(events, targets, dt)
        out += self.images.collect(targets, self.desk.add_keyframe)
        if self.recorder is not None:
            self.recorder.flush()
        return out

    def _replayed(self, t: float, now: float) -> list[Event]:
        assert self.replay is not None
        out: list[Event] = []
        for line in self.replay.due(t):
            if line.kind == "tempo":
                self.sources.replayed(line.data, t, now)
            elif line.data["target"] != "quit":  # the log's end ends a replay, not its quit
                out.append(line.event())
        if self.replay.finished and t >= self.replay.end:
            out.append(ControlEvent("quit", source="replay"))
        return out

    def _desk_action(
        self, e: ControlEvent, targets: dict[str, float], now: float
    ) -> list[ControlEvent]:
        desk, a = self.desk, e.target
        if a == "keyframe.image":
            self.images.submit(e.text, self.model)
        elif a == "keyframe.store":
            desk.add_keyframe(self.z_last, "current position")
        elif a == "keyframe.seed":
            desk.seed_keyframe(e.value)
        elif a == "keyframe.delete":
            desk.delete_keyframe(e.value)
        elif a == "keyframe.clear":
            desk.clear_keyframes()
        elif a == "keyframe.recall":
            n, frames = slot(e.value), desk.loop_keyframes()
            if n is not None and 1 <= n <= len(frames):
                self._start_morph(now, targets, {"loop.on": 1.0}, f"keyframe {n}")
                self._pending_phase = float(n - 1)
                return [ControlEvent("loop.on", 1.0, source="instrument")]
        elif a == "scene.store":
            desk.store(e.value, e.text, targets, self.nav.seed, self.phase)
        elif a == "scene.rename":
            desk.rename(e.value, e.text)
        elif a == "scene.delete":
            desk.delete(e.value)
        else:
            index = desk.cue_target(a, e.value)
            if index is not None:
                self.recall(index, targets, now)
        return []

    def recall(self, index: int, targets: Mapping[str, float], now: float) -> None:
        scene = self.desk.book.scenes[index]
        label = f"scene {index + 1} {scene.name}"
        self.awaiting = None
        if not self.desk.plays(scene):
            self._bring_back_model(scene)
        self.desk.cue = index
        if scene.latent_dim != self.nav.latent_dim:
            # Its walk and keyframes live in its own model's latent space: they come back
            # when that model lands (on_swap); the parameters glide now.
            if self.request_model is not None:
                self.awaiting = scene
            then = "its walk follows its model" if self.awaiting else "its walk cannot play here"
            self.note(
                f"{label}: latents of size {scene.latent_dim}, the model's are "
                f"{self.nav.latent_dim}: {then}"
            )
        else:
            self._recall_walk(scene)
        self._start_morph(now, targets, scene.parameters, label)

    def _recall_walk(self, scene: Scene) -> None:
        """The scene's keyframes, seed and phase (the navigator's state)."""
        self.desk.book.keyframes = [np.array(k) for k in scene.keyframes]
        if scene.seed != self.nav.seed:
            nav = self.nav
            self.nav = Navigator(nav.latent_dim, scene.seed, nav.mode, nav.easing)
        self._pending_phase = scene.phase

    def _bring_back_model(self, scene: Scene) -> None:
        """Ask for the scene's model; the swap (validated, off this thread, crossfaded)
        comes when it is ready, and the service says on the HUD if it cannot be found."""
        if self.request_model is None:
            self.note(
                f"scene {scene.name}: model {scene.model} not available (hot-swap is off); "
                f"{self.desk.model_id} plays on",
                10.0,
            )
            return
        self.request_model(scene.model, scene.model_folder, scene.model_sha)
        self.note(f"scene {scene.name}: bringing back model {scene.model}")

    def _start_morph(
        self, now: float, targets: Mapping[str, float], to: Mapping[str, float], label: str
    ) -> None:
        seconds = float(targets.get("morph.time", self.config.morph_s))
        grid = {"none": 0.0, "beat": 1.0, "bar": float(self.config.beats_per_bar)}[
            self.config.quantize
        ]
        end = quantized_end(self.tempo.state, now, seconds, grid)
        params_from = {k: float(targets[k]) for k in to if k in targets}
        self.morph = Morph(
            now,
            end,
            None if self.z_last is None else self.z_last.copy(),
            params_from,
            dict(to),
            label,
        )
        self.note(f"{label}: morph {end - now:.2f} s")

    def _morph_targets(self, now: float) -> list[ControlEvent]:
        if self.morph is None:
            return []
        return [ControlEvent(k, v, source="morph") for k, v in self.morph.params(now).items()]

    # -- 2: the phase ----------------------------------------------------------------------
    def phase_sync(
        self, phase: float, values: Mapping[str, float], dt: float, now: float
    ) -> float | None:
        if self._pending_phase is not None:
            phase, self._pending_phase = self._pending_phase, None
            return phase
        gain = 1.0 - values.get("walk.paused", 0.0)
        state = self.tempo.state
        beat = state.beat_at(now)
        frames = self.desk.loop_keyframes()
        if values.get("loop.on", 0.0) >= 0.5 and frames:
            n = float(len(frames))
            if values.get("loop.sync", 0.0) >= 0.5 and state.known:
                if not state.running:
                    return phase
                return locked_phase(
                    phase, n, beat, max(1.0, values["loop.beats"]), state.bpm, dt, gain
                )
            return phase + gain * n * dt / max(1e-3, values.get("loop.period", 16.0))
        if values.get("walk.sync", 0.0) >= 0.5 and state.known and state.source != "midi clock":
            if not state.running:
                return phase
            return locked_phase(
                phase, 1.0, beat, max(1.0, values.get("walk.beats", 4.0)), state.bpm, dt, gain
            )
        return None

    # -- 3: the latent -------------------------------------------------------------------
    def latent(
        self, z: np.ndarray, phase: float, values: Mapping[str, float], now: float
    ) -> np.ndarray:
        self.phase, self.values = phase, values
        dt = 0.0 if self._latent_t is None else max(0.0, now - self._latent_t)
        self._latent_t = now
        psi = values["latent.truncation"]
        frames = self.desk.loop_keyframes()
        if values.get("loop.on", 0.0) >= 0.5 and frames:
            z = truncate(
                loop_latent(frames, phase / len(frames), spline=self.config.loop_spline), psi
            )
        elif z.shape[0] == self.nav.latent_dim:
            z = self.nav.position(phase, psi)  # the instrument's walk: a recalled scene's seed
        dim, seed = z.shape[0], self.nav.seed
        self._drift_phase += values.get("drift.speed", 0.0) * dt
        temperature, amount = values.get("drift.temperature", 0.0), values.get("jitter.amount", 0.0)
        if temperature > 0:
            z = z + drift_offset(seed, dim, self._drift_phase, temperature)
        if amount > 0:
            t = now - (self.t0 if self.t0 is not None else 0.0)
            z = z + jitter_offset(seed, dim, t, amount, values.get("jitter.rate", 12.0))
        z = self._pushed(z, values)
        if self.morph is not None:
            z = self.morph.latent(z, now)
            if self.morph.progress(now) >= 1.0:
                self.morph = None
        self.z_last = z.astype(np.float32, copy=False)
        return self.z_last

    def _pushed(self, z: np.ndarray, values: Mapping[str, float]) -> np.ndarray:
        d = self.directions
        if d is None or d.space != "z" or d.vectors.shape[1] != z.shape[0]:
            return z
        amounts = _amounts(d, values)
        return z + d.offset(amounts) if amounts.any() else z

    def w_offset(self, values: Mapping[str, float]) -> np.ndarray | None:
        """The loop's w offset hook: directions found in a style-based model's w push there,
        along the principal axis itself (StyleControls.w_offset)."""
        d = self.directions
        if d is None or d.space != "w":
            return None
        amounts = _amounts(d, values)
        return d.offset(amounts) if amounts.any() else None

    def hud_lines(self) -> Iterable[str]:
        return hud_lines(self)

    def status_fields(self, now: float) -> dict[str, object]:
        """The show's tempo for the status and OSC's state out, when one is known."""
        state = self.tempo.state
        if not state.known:
            return {}
        return {
            "bpm": round(state.bpm, 3),
            "tempo_beat": state.beat_at(now),
            "tempo_source": state.source,
        }

    def on_swap(self, old: LoadedModel, new: LoadedModel) -> None:
        dim = int(getattr(new, "latent_dim", self.nav.latent_dim))
        if dim != self.nav.latent_dim:
            self.nav = Navigator(dim, self.nav.seed, self.nav.mode, self.nav.easing)
            self.desk.latent_dim = dim
            self.z_last = None
            if self.morph is not None:  # parameters glide on; latents of two sizes cannot
                self.morph.z_from = None
            self.directions = None  # they belong to the old model's latents
            self.note(
                f"the new model's latents have size {dim}: keyframes and scenes of other sizes wait"
            )
        self.desk.model_id = str(getattr(new, "id", self.desk.model_id))
        self.desk.model_folder = str(getattr(new, "folder", self.desk.model_folder))
        card = getattr(new, "card", None)
        self.desk.model_sha = str(getattr(card, "sha256", "")) if card is not None else ""
        self.model = new
        scene = self.awaiting
        if scene is not None and self.desk.plays(scene) and scene.latent_dim == dim:
            self.awaiting = None
            self._recall_walk(scene)  # phase_sync takes its phase this very frame
            self.note(f"scene {scene.name}: its walk is back with model {self.desk.model_id}")

    def start(self) -> None:
        for part in (self.link, self.audio):
            if part is not None:
                part.start()

    def stop(self) -> None:
        for part in (self.link, self.audio):
            if part is not None:
                part.stop()
        close = getattr(self.progress, "close", None)
        if close is not None:
            close()
        if self.recorder is not None:
            self.recorder.close(self.t)
        self.desk.writer.close()
        self.images.close()
