"""The scene desk: store, rename, delete and recall scenes, the cue list, and keyframes.

It runs on the main thread inside the instrument's mapper, so it may read and change the
show's state freely; saving the scene file happens on a writer thread (a dump of many
latents takes longer than a frame), which gets each snapshot whole and writes it atomically.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Mapping

import numpy as np

from installation.instruments.modes import seeded_latent
from installation.instruments.scenes import NOT_IN_SCENES, Scene, SceneBook

log = logging.getLogger(__name__)

# The actions the desk answers (the instrument hands it these events).
DESK_ACTIONS = (
    "keyframe.image",
    "keyframe.store",
    "keyframe.seed",
    "keyframe.recall",
    "keyframe.delete",
    "keyframe.clear",
    "scene.store",
    "scene.rename",
    "scene.delete",
    "cue.go",
    "cue.back",
    "cue.jump",
)


def scene_params(targets: Mapping[str, float]) -> dict[str, float]:
    """The parameters a scene keeps: the piece, not the operator's state or raw inputs."""
    return {
        k: float(v)
        for k, v in targets.items()
        if k not in NOT_IN_SCENES and not k.startswith("signal.")
    }


def slot(value: float) -> int | None:
    """An action's 1-based slot number, or None when none was given."""
    if not math.isfinite(value):
        return None
    return int(round(value))


class SceneWriter:
    """Saves scene books off the render thread, newest snapshot wins."""

    def __init__(self) -> None:
        self._queue: queue.Queue[SceneBook | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failed: str | None = None

    def save(self, book: SceneBook) -> None:
        if book.read_only:
            return
        snapshot = SceneBook(
            book.path,
            [Scene(**vars(s)) for s in book.scenes],
            list(book.keyframes),
            foreign=list(book.foreign),
        )
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="scene-writer", daemon=True)
            self._thread.start()
        self._queue.put(snapshot)

    def _run(self) -> None:
        stop = False
        while not stop:
            book = self._queue.get()
            while not self._queue.empty():  # only the newest snapshot matters
                newer = self._queue.get()
                if newer is None:
                    stop = True
                else:
                    book = newer
            if book is None:
                return
            try:
                book.save()
                self.failed = None
            except OSError as exc:
                self.failed = f"cannot save {book.path}: {exc}"
                log.error("%s", self.failed)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None


class SceneDesk:
    def __init__(
        self,
        book: SceneBook,
        latent_dim: int,
        model_id: str,
        note: Callable[[str], None],
        writer: SceneWriter | None = None,
    ) -> None:
        self.book, self.latent_dim, self.model_id = book, latent_dim, model_id
        self.model_folder = ""  # where the playing model came from (a scene stores it)
        self.model_sha = ""  # the playing model's weights' SHA-256: which model, exactly
        self.note = note
        self.writer = writer or SceneWriter()
        self.cue: int | None = None  # index of the scene recalled or stored last

    def _save(self) -> None:
        self.writer.save(self.book)

    # -- keyframes -----------------------------------------------------------------------
    def loop_keyframes(self) -> list[np.ndarray]:
        return [k for k in self.book.keyframes if k.shape[0] == self.latent_dim]

    def add_keyframe(self, z: np.ndarray | None, what: str) -> None:
        if z is None or z.shape[0] != self.latent_dim:
            return
        self.book.keyframes.append(np.array(z, dtype=np.float32))
        self.note(f"keyframe {len(self.book.keyframes)} stored ({what})")
        self._save()

    def seed_keyframe(self, value: float) -> None:
        seed = slot(value)
        self.add_keyframe(
            seeded_latent(0 if seed is None else abs(seed), self.latent_dim),
            f"seed {0 if seed is None else abs(seed)}",
        )

    def delete_keyframe(self, value: float) -> None:
        n, kf = slot(value), self.book.keyframes
        index = len(kf) - 1 if n is None else n - 1
        if 0 <= index < len(kf):
            del kf[index]
            self.note(f"keyframe {index + 1} deleted ({len(kf)} left)")
            self._save()

    def clear_keyframes(self) -> None:
        if self.book.keyframes:
            self.book.keyframes.clear()
            self.note("keyframes cleared")
            self._save()

    # -- scenes --------------------------------------------------------------------------
    def store(
        self, value: float, name: str, targets: Mapping[str, float], seed: int, phase: float
    ) -> int:
        n, scenes = slot(value), self.book.scenes
        index = len(scenes) if n is None or not (1 <= n <= len(scenes)) else n - 1
        keep = scenes[index].name if index < len(scenes) else ""
        scene = Scene(
            name or keep or self.book.unique_name("scene"),
            self.model_id,
            self.latent_dim,
            seed,
            phase,
            targets.get("loop.on", 0.0) >= 0.5,
            scene_params(targets),
            [np.array(k) for k in self.book.keyframes],
            self.model_folder,
            self.model_sha,
        )
        if name and any(s.name == name for i, s in enumerate(scenes) if i != index):
            scene.name = self.book.unique_name(name)
        if index < len(scenes):
            scenes[index] = scene
        else:
            scenes.append(scene)
        self.cue = index
        self.note(f"scene {index + 1} stored: {scene.name}")
        self._save()
        return index

    def rename(self, value: float, name: str) -> None:
        n, scenes = slot(value), self.book.scenes
        index = self.cue if n is None else n - 1
        name = name.strip()
        if index is None or not (0 <= index < len(scenes)) or not name:
            self.note("rename: give a scene number and a new name")
            return
        if any(s.name == name for i, s in enumerate(scenes) if i != index):
            self.note(f"rename: there is a scene called {name!r} already")
            return
        old, scenes[index].name = scenes[index].name, name
        self.note(f"scene {index + 1} renamed: {old} -> {name}")
        self._save()

    def delete(self, value: float) -> None:
        n, scenes = slot(value), self.book.scenes
        index = self.cue if n is None else n - 1
        if index is None or not (0 <= index < len(scenes)):
            return
        gone = scenes.pop(index)
        if self.cue is not None and self.cue >= index:
            # Deleting the current scene leaves the one before it current: go plays the next.
            self.cue = self.cue - 1 if self.cue - 1 >= 0 else None
        self.note(f"scene {index + 1} deleted: {gone.name}")
        self._save()

    def plays(self, scene: Scene) -> bool:
        """Whether the model playing is the scene's: by SHA-256 where both know it, else id."""
        if scene.model_sha and self.model_sha:
            return scene.model_sha == self.model_sha
        return not scene.model or scene.model == self.model_id

    def cue_target(self, action: str, value: float) -> int | None:
        """The scene index that go/back/jump asks for, or None when there is none."""
        count = len(self.book.scenes)
        if action == "cue.go":
            index = 0 if self.cue is None else self.cue + 1
        elif action == "cue.back":
            index = 0 if self.cue is None else self.cue - 1
        else:
            n = slot(value)
            index = -1 if n is None else n - 1
        return index if 0 <= index < count else None

    def describe(self) -> str | None:
        scenes = self.book.scenes
        if not scenes and not self.book.keyframes:
            return None
        where = (
            f"scene {self.cue + 1}/{len(scenes)} {scenes[self.cue].name}"
            if self.cue is not None
            else f"{len(scenes)} scene(s), none recalled"
        )
        return f"{where}   keyframes {len(self.loop_keyframes())}"
