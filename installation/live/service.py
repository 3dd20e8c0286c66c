"""The live model service: watch, validate, warm, offer; history, operator controls, HUD.

One background thread does all the slow work (hashing, loading, checking, warming), so the
render thread only ever takes a ready model from the one-slot SwapBox at a frame boundary
and crossfades to it (render/loop.py). The composition root (app.py) connects it to the
loop, which reaches it only through queues:
`feedback` (registry changes and actions, from the keyboard, OSC or MIDI) and `on_swap`
enqueue commands; `hud_lines` returns a tuple this thread replaces whole.

Operator controls, all registry names (so OSC and MIDI get them too):
  model.pinned     keep what plays; validated checkpoints wait (the HUD says which)
  model.previous   step back through the models that played (pins, so it stays)
  model.latest     unpin and play the newest validated model
  training.paused  SIGSTOP/SIGCONT the trainer process
A recalled scene asks for its model (`request_model`): from the history, or its folder.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from installation.checkpoints import CARD_FILE, CheckpointError, LoadedModel, ModelCard, read_card
from installation.events import ControlEvent, EventQueue
from installation.live import outcomes
from installation.live.config import HotswapConfig
from installation.live.supervisor import TrainerSupervisor
from installation.live.swap import SwapBox
from installation.live.trainer import build_trainer
from installation.live.validation import NotWhole, read_whole, validate
from installation.live.watcher import Candidate, FolderWatcher, folder_signature
from installation.params import Registry
from installation.stats import StatsWriter

if TYPE_CHECKING:
    from installation.config.show import Show

log = logging.getLogger(__name__)

# The service thread's OS priority (Linux: per thread): loading must not take the render's CPU.
SERVICE_NICE = 10


class LiveModels:
    """Background service (start/stop) that feeds validated checkpoints to the render loop."""

    def __init__(
        self,
        *,
        watcher: FolderWatcher,
        box: SwapBox[LoadedModel],
        events: EventQueue,
        stats: StatsWriter,
        config: HotswapConfig,
        registry: Registry,
        playing_sha: str = "",
        trainer: TrainerSupervisor | None = None,
        training_out: Path | None = None,
        prepare: Callable[[LoadedModel], LoadedModel] | None = None,
        playing_folder: Path | None = None,
    ) -> None:
        self.watcher, self.box, self.events, self.stats, self.config = (
            watcher,
            box,
            events,
            stats,
            config,
        )
        self.trainer, self.training_out = trainer, training_out
        self.prepare = prepare  # to the renderer's device and precision, on this thread
        self.pinned = registry.params["model.pinned"].default >= 0.5
        self._commands: queue.Queue[tuple] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: LoadedModel | None = None  # known once the loop has swapped once
        self._current_sha = playing_sha
        self._playing_folder = playing_folder
        self._folder_missing = False  # the playing model's folder was deleted under it
        self._history: list[LoadedModel] = []
        self._newest: LoadedModel | None = None
        # The newest validated checkpoint not yet offered to the loop (waiting for a crossfade
        # to end, or for an unpin): a newer one supersedes it. Superseded valid models join
        # the history when their successor plays, so B / /model/previous still reach them.
        self._unoffered: LoadedModel | None = None
        self._superseded: list[LoadedModel] = []
        # A checkpoint that arrived during a crossfade waits for it to finish (then the
        # newest of those plays): one fade at a time, however often the trainer saves.
        self._waiting: LoadedModel | None = None
        self._next_swap_at = 0.0
        self._unwhole_since: dict[tuple, float] = {}
        self._train_step: int | None = None
        self._last = ""
        self._hud: tuple[str, ...] = ()
        self.validations = 0  # validate() calls: a slow copy must cost exactly one
        if registry.params["training.paused"].default >= 0.5 and trainer is not None:
            trainer.pause()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._refresh_hud()
        if self.trainer is not None:
            self.trainer.start()
        self._thread = threading.Thread(target=self._run, name="live-models", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._commands.put(("stop",))
        if self._thread is not None:
            self._thread.join(30)
        if self.trainer is not None:
            self.trainer.stop()

    # -- called on the render thread: only enqueue ------------------------------------------
    def feedback(self, changed: dict[str, float], events: list[ControlEvent]) -> None:
        for name in ("model.pinned", "training.paused"):
            if name in changed:
                self._commands.put((name, changed[name] >= 0.5))
        for event in events:
            if event.target in ("model.previous", "model.latest"):
                self._commands.put((event.target,))

    def request_model(self, model_id: str, folder: str, sha: str = "") -> None:
        """A recalled scene's model (the weights' SHA-256 names it exactly; else its id):
        played again if it is in the history, else validated from its folder; never waited
        for here (render thread)."""
        self._commands.put(("recall", model_id, folder, sha))

    def on_swap(self, old: LoadedModel, new: LoadedModel) -> None:
        self._commands.put(("swapped", old, new, time.strftime("%H:%M:%S")))

    def hud_lines(self) -> tuple[str, ...]:
        return self._hud

    # -- the service thread -----------------------------------------------------------------
    def _run(self) -> None:
        if sys.platform.startswith("linux"):
            try:  # on Linux a nice value belongs to one thread: this one, not the render's
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SERVICE_NICE)
            except OSError:
                pass
        next_poll = time.monotonic()
        while not self._stop.is_set():
            try:
                wake = next_poll if self._waiting is None else min(next_poll, self._next_swap_at)
                command = self._commands.get(timeout=max(0.0, wake - time.monotonic()))
            except queue.Empty:
                command = None
            try:
                if command is not None:
                    self._handle(command)
                if time.monotonic() >= next_poll and not self._stop.is_set():
                    next_poll = time.monotonic() + self.config.poll_s
                    self._poll()
                self._offer_when_due()
            except Exception:  # the show must outlive any bug in here
                log.exception("live model service error")
            self._refresh_hud()

    def _handle(self, command: tuple) -> None:
        kind = command[0]
        if kind == "model.pinned":
            self.pinned = command[1]
            if not self.pinned:
                self._offer_newest()
        elif kind == "training.paused" and self.trainer is not None:
            (self.trainer.pause if command[1] else self.trainer.resume)()
        elif kind == "model.previous":
            self._step_back()
        elif kind == "model.latest":
            self._set_pinned(False)
            self._offer_newest()
        elif kind == "swapped":
            self._swapped(*command[1:])
        elif kind == "recall":
            self._recall(*command[1:])

    def _recall(self, model_id: str, folder: str, sha: str = "") -> None:
        def wanted(m: LoadedModel | None) -> bool:
            return m is not None and (m.card.sha256 == sha if sha else m.id == model_id)

        if wanted(self._current):
            return
        known = [*self._history, *self._superseded, self._newest, self._unoffered]
        model = next((m for m in reversed(known) if wanted(m)), None)
        why = "not in the model history and the scene names no folder"
        if model is None and folder:
            try:
                if sha and read_card(Path(folder)).sha256 != sha:  # cheap: the card alone
                    raise CheckpointError(f"{folder} holds another version of it now")
                model = validate(Path(folder), self.config.min_diversity, self.prepare)
            except Exception as exc:  # CheckpointError, a missing folder, a hostile file
                why = str(exc) if isinstance(exc, CheckpointError) else f"{folder}: {exc}"
        if model is None:
            self._last = f"scene model {model_id} not available: {why}"[:110]
            log.warning("a recalled scene's model %s is not available: %s", model_id, why)
            return
        self._set_pinned(True)  # the scene's model stays until the operator unpins
        self._offer(model)
        self._last = f"scene model {model.id} v{model.version} coming back"

    def _set_pinned(self, pinned: bool) -> None:
        """Change the pin here at once and in the registry (so HUD/OSC feedback agree)."""
        if self.pinned != pinned:
            self.pinned = pinned
            self.events.put(ControlEvent("model.pinned", float(pinned), source="hotswap"))

    def _offer(self, model: LoadedModel) -> None:
        self._waiting = None
        if model is self._unoffered:
            self._unoffered = None
        self._next_swap_at = time.monotonic() + self.config.crossfade_s
        replaced = self.box.offer(model)
        if replaced is not None and replaced is not model and not self._played(replaced):
            self._supersede(replaced, model)  # the loop never took it

    def _played(self, model: LoadedModel) -> bool:
        return model is self._current or any(m is model for m in self._history)

    def _supersede(
        self, model: LoadedModel, by: LoadedModel, why: str = "a newer checkpoint is ready"
    ) -> None:
        """`model` (validated) will not be swapped in: one event naming what replaced it."""
        outcomes.superseded(self.stats, model, by, why)
        if model.card.sha256 != by.card.sha256 and not any(m is model for m in self._superseded):
            self._superseded = [*self._superseded, model][-self.config.history :]

    def _offer_when_due(self) -> None:
        if self._waiting is not None and not self.pinned and time.monotonic() >= self._next_swap_at:
            self._offer(self._waiting)

    def _offer_newest(self) -> None:
        if self._newest is not None and self._newest.card.sha256 != self._current_sha:
            self._offer(self._newest)

    def _step_back(self) -> None:
        index = next((i for i, m in enumerate(self._history) if m is self._current), None)
        if index is None or index == 0:
            self._last = "no earlier model to step back to"
            return
        self._set_pinned(True)
        self._offer(self._history[index - 1])

    def _swapped(self, old: LoadedModel, new: LoadedModel, when: str) -> None:
        if not self._history:
            self._history.append(old)
        if not any(m is new for m in self._history):
            # Valid checkpoints that newer ones superseded stay one B away, just before it.
            self._history.extend(m for m in self._superseded if not self._played(m))
            self._superseded = []
            self._history.append(new)
        # Keep the last N that played (and always the one playing).
        while len(self._history) > self.config.history:
            drop = next(m for m in self._history if m is not new)
            self._history.remove(drop)
        self._current, self._current_sha = new, new.card.sha256
        self._playing_folder, self._folder_missing = new.folder, False
        self._next_swap_at = time.monotonic() + self.config.crossfade_s
        self._last = f"swap {new.id} v{new.version} at {when}"

    def _check_playing_folder(self) -> None:
        """Say so when the playing model's folder is deleted: the show plays on from memory,
        but a restart would not find it."""
        folder = self._playing_folder
        if folder is None:
            return
        missing = not (folder / CARD_FILE).exists()
        if missing == self._folder_missing:
            return
        self._folder_missing = missing
        if missing:
            log.warning(
                "the playing model's folder %s was deleted: it plays on from memory, "
                "but the show would not start with it",
                folder,
            )
            self.stats.event("model_folder_missing", t=time.monotonic(), folder=str(folder))
        else:
            log.info("the playing model's folder %s is back", folder)
            self.stats.event("model_folder_restored", t=time.monotonic(), folder=str(folder))

    def _poll(self) -> None:
        self._check_playing_folder()
        candidates = self.watcher.poll()
        # Forget hash mismatches of file versions that are gone (each chunk of a slow copy).
        current = {c.signature for c in candidates}
        self._unwhole_since = {sig: t for sig, t in self._unwhole_since.items() if sig in current}
        # Every candidate gets one outcome: rejected, or validated; of those validated, the
        # newest (by file time) is the one to play and the others are superseded by it.
        valid = [m for m in map(self._consider, candidates) if m is not None]
        if not valid:
            return
        model, older = valid[0], valid[1:]
        for other in older:
            self._supersede(other, model)
        if self._unoffered is not None:
            self._supersede(self._unoffered, model)
        self._newest = self._unoffered = model
        if not self.pinned:
            self._waiting = model  # offered now, or when the current crossfade ends
            self._offer_when_due()
        else:
            log.info("pinned: %s v%d waits", model.id, model.version)

    def _consider(self, candidate: Candidate) -> LoadedModel | None:
        """Validate and warm one candidate; None if it is not whole yet, known, or rejected."""
        now = time.monotonic()
        try:
            whole = read_whole(candidate.folder)  # the only read and hash of this version
        except NotWhole as exc:
            first = self._unwhole_since.setdefault(candidate.signature, now)
            if now - first >= self.config.give_up_s:  # stable, yet never whole: truncated
                self._reject(candidate, str(exc), None)
            return None
        self._unwhole_since.pop(candidate.signature, None)
        card = whole.card
        if self.training_out is not None and candidate.folder == self.training_out:
            self._train_step = card.step
            if self.trainer is not None:
                self.trainer.note_progress(card.step)
        if card.sha256 == self._current_sha:
            self.watcher.done(candidate)  # what is playing already
            outcomes.already_playing(self.stats, candidate.folder, card)
            return None
        self.validations += 1
        try:
            model = validate(whole, self.config.min_diversity, self.prepare)
        except Exception as exc:  # CheckpointError, or anything a hostile file provokes
            if folder_signature(candidate.folder) != candidate.signature:
                return None  # replaced while we read it: look again when it is stable
            reason = (
                str(exc) if isinstance(exc, CheckpointError) else f"{type(exc).__name__}: {exc}"
            )
            self._reject(candidate, reason, card)
            return None
        self.watcher.done(candidate)
        log.info("validated %s v%d from %s", model.id, model.version, candidate.folder)
        self.stats.event(
            "validated", t=time.monotonic(), folder=str(candidate.folder), model=model.describe()
        )
        return model

    def _reject(self, candidate: Candidate, reason: str, card: ModelCard | None) -> None:
        self.watcher.done(candidate)
        self._unwhole_since.pop(candidate.signature, None)
        label = f"{card.name} v{card.step}" if card is not None else candidate.folder.name
        if str(candidate.folder) not in reason:  # every reason says which folder it is about
            reason = f"{candidate.folder}: {reason}"
        log.warning(
            "rejected checkpoint %s (%s): %s; the current model keeps playing",
            label,
            candidate.folder,
            reason,
        )
        fields = {"model": {"id": card.name, "version": card.step}} if card is not None else {}
        self.stats.event(
            "reject", t=time.monotonic(), folder=str(candidate.folder), reason=reason, **fields
        )
        self._last = f"reject {label} at {time.strftime('%H:%M:%S')}: {reason}"[:110]

    def _refresh_hud(self) -> None:
        state = "pinned" if self.pinned else "following"
        line = f"live: {state}, {len(self.watcher.roots)} folder(s)"
        if self._newest is not None and self._newest.card.sha256 != self._current_sha:
            line += f"   v{self._newest.version} ready"
        lines = [line]
        if self._folder_missing:
            lines.append(
                f"model folder deleted: {self._playing_folder} (playing from memory)"[:110]
            )
        if self.trainer is not None:
            lines.append(self._trainer_line())
            status = self.trainer.status
            if status.state == "backoff" and status.last_error:
                lines.append(f"training error: {status.last_error}"[:110])
        if self._last:
            lines.append(f"last: {self._last}")
        self._hud = tuple(lines)

    def _trainer_line(self) -> str:
        assert self.trainer is not None
        s = self.trainer.status
        step = f" step {self._train_step}" if self._train_step is not None else ""
        text = f"training: {s.state}{step}"
        if s.state == "backoff" and s.retry_at is not None:
            text += (
                f", restart in {max(0.0, s.retry_at - time.monotonic()):.0f} s (exit {s.last_exit})"
            )
        if s.restarts:
            text += f", {s.restarts} restart(s)"
        return text


def build_live_models(
    show: Show,
    registry: Registry,
    stats: StatsWriter,
    *,
    box: SwapBox[LoadedModel],
    events: EventQueue,
    prepare: Callable[[LoadedModel], LoadedModel] | None = None,
) -> LiveModels | None:
    """The live model service for the show's hotswap: and training: sections (None when both are off)."""
    hs, tr = show.hotswap, show.training
    if not hs.enabled and not tr.enabled:
        return None
    model_folder = show.resolve(show.model.path)
    training_out = show.resolve(tr.out) if tr.enabled else None
    roots: list[Path] = []
    if hs.enabled:
        roots = [model_folder, *(show.resolve(w) for w in hs.watch)]
        if training_out is not None:
            roots.append(training_out)
    for root in roots:
        if not root.is_dir():
            log.warning("hotswap: watched folder %s does not exist (yet)", root)
    # What plays now is the baseline; older files in watched folders are not news. The
    # baseline is the playing folder's own signature time (the newer of its two files, as
    # the watcher reckons it), so that folder itself is never reported as a new candidate.
    signature = folder_signature(model_folder)
    try:
        playing_sha = read_card(model_folder).sha256
        since = Candidate(model_folder, signature).mtime if signature is not None else None
    except (OSError, CheckpointError):
        since, playing_sha = None, ""
    return LiveModels(
        watcher=FolderWatcher(roots, hs.stable_polls, since, hs.burst_s),
        box=box,
        events=events,
        stats=stats,
        config=hs,
        registry=registry,
        playing_sha=playing_sha,
        trainer=build_trainer(show, stats) if tr.enabled else None,
        training_out=training_out,
        prepare=prepare,
        playing_folder=model_folder,
    )
