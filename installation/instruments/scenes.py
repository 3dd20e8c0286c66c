"""Scenes: whole-state snapshots (navigator, parameters, keyframes, model) in a file beside
the show (`performance.scene_file`, scenes.yaml in the show's folder by default).

The file is validated like show.yaml: an unknown key or a wrong type names its line and
the show stops before it starts. A scene that is well formed but does not fit this show
(a model that is neither playing nor in the scene's folder, latents of another size, a
parameter this build does not have, a value out of range) is skipped, and named in the log
and on the HUD; the others load. A scene knows its model by the weights' SHA-256 (the
card's, as hot-swap does), so a scene file from another show, or one stored with a model
since retrained under the same name, is caught; files without one match by the model's id.
Skipped scenes stay in the file as they were (they may fit another show), and saving is
atomic (a temp file and a rename), so a crash mid-save leaves the old file whole.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
import yaml
from pydantic import Field, ValidationError

from installation.checkpoints import CheckpointError, read_card
from installation.config.base import Section, ShowError, format_error, read_yaml
from installation.files import atomic_write_bytes
from installation.params import Registry

log = logging.getLogger(__name__)

# Operator state, not part of a piece: a scene neither stores nor recalls these.
NOT_IN_SCENES = frozenset({"hud.visible", "model.pinned", "training.paused"})
VERSION = 1


class NavigatorState(Section):
    seed: int = Field(0, ge=0, description="the walk's seed")
    phase: float = Field(0.0, description="the walk's phase, in keyframes travelled")
    loop: bool = Field(False, description="loop through the scene's keyframes instead of walking")


class SceneEntry(Section):
    name: str = Field(min_length=1)
    model: str = Field("", description="the id of the model the scene was stored with")
    model_sha: str = Field(
        "", description="that model's weights' SHA-256 (its card's): which model, exactly"
    )
    model_folder: str = Field(
        "", description="the folder that model was loaded from (recall brings it back from there)"
    )
    latent_dim: int = Field(gt=0)
    navigator: NavigatorState = NavigatorState()
    parameters: dict[str, float] = Field(default_factory=dict)
    keyframes: list[list[float]] = Field(default_factory=list)


class SceneFileSchema(Section):
    version: int = VERSION
    keyframes: list[list[float]] = Field(
        default_factory=list, description="the working keyframes of the loop"
    )
    scenes: list[SceneEntry] = Field(default_factory=list)


@dataclass
class Scene:
    name: str
    model: str
    latent_dim: int
    seed: int = 0
    phase: float = 0.0
    loop: bool = False
    parameters: dict[str, float] = field(default_factory=dict)
    keyframes: list[np.ndarray] = field(default_factory=list)
    model_folder: str = ""
    model_sha: str = ""

    def to_entry(self) -> dict:
        return {
            "name": self.name,
            "model": self.model,
            "model_sha": self.model_sha,
            "model_folder": self.model_folder,
            "latent_dim": self.latent_dim,
            "navigator": {"seed": self.seed, "phase": float(self.phase), "loop": self.loop},
            "parameters": {k: float(v) for k, v in sorted(self.parameters.items())},
            "keyframes": [[float(x) for x in k] for k in self.keyframes],
        }


@dataclass
class SceneBook:
    """The scenes (in cue order) and the working keyframes of one show."""

    path: Path
    scenes: list[Scene] = field(default_factory=list)
    keyframes: list[np.ndarray] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why", from the last load
    # The skipped scenes' entries as read: saved back after the others, never lost.
    foreign: list[dict] = field(default_factory=list)
    # A replay's book (from the log) is never saved: a render must not rewrite the show's file.
    read_only: bool = False

    def names(self) -> list[str]:
        return [s.name for s in self.scenes]

    def unique_name(self, base: str) -> str:
        taken, n = set(self.names()) | {str(e.get("name")) for e in self.foreign}, 1
        while f"{base} {n}" in taken:
            n += 1
        return f"{base} {n}"

    def to_data(self) -> dict:
        return {
            "version": VERSION,
            "keyframes": [[float(x) for x in k] for k in self.keyframes],
            "scenes": [s.to_entry() for s in self.scenes] + list(self.foreign),
        }

    def save(self) -> None:
        if self.read_only:
            return
        data = self.to_data()
        text = "# Scenes of a show: written by the show (store, rename, delete); edit with care.\n"
        text += yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)
        atomic_write_bytes(self.path, text.encode("utf-8"))


@dataclass(frozen=True)
class Playing:
    """The model a show plays: what a scene's model is matched against."""

    latent_dim: int
    id: str = ""
    sha: str = ""


def _folder_card(entry: SceneEntry, base: Path) -> tuple[str, str, int] | None:
    """(id, sha256, latent size) of the model in the scene's folder, or None."""
    if not entry.model_folder:
        return None
    folder = Path(entry.model_folder).expanduser()
    try:
        card = read_card(folder if folder.is_absolute() else base / folder)
    except CheckpointError:
        return None
    return card.name, card.sha256, card.latent_dim


def _model_misfit(entry: SceneEntry, playing: Playing, base: Path) -> str | None:
    """Why the scene's model is not one this show can play (None: it is): the model playing,
    or the one in the scene's folder, a recall brings that back. Matched by the weights'
    SHA-256 when the scene and the show have it, else by id; the latents' size must agree."""
    size, by_sha = entry.latent_dim, bool(entry.model_sha and playing.sha)
    same = entry.model_sha == playing.sha if by_sha else size == playing.latent_dim
    if same:
        if size != playing.latent_dim:
            return f"latents of size {size}, its model's are {playing.latent_dim}"
        return None
    found = _folder_card(entry, base)
    wanted = (1, entry.model_sha) if by_sha else (0, entry.model)
    if found is not None and found[wanted[0]] == wanted[1]:
        if found[2] != size:
            return f"latents of size {size}, its model's are {found[2]}"
        return None  # a recall brings it back from its folder
    if not by_sha:
        return f"latents of size {size}, this model's are {playing.latent_dim}"
    if entry.model == playing.id:
        return (
            f"stored with model {entry.model} {entry.model_sha[:12]}, retrained since "
            f"(the one playing is {playing.sha[:12]})"
        )
    where = "gone" if found is None else f"it holds {found[0]} {found[1][:12]}"
    return (
        f"stored with model {entry.model} {entry.model_sha[:12]}, which is neither playing "
        f"nor in its folder ({entry.model_folder or 'none named'}: {where})"
    )


def _misfit(entry: SceneEntry, registry: Registry, playing: Playing, base: Path) -> str | None:
    why = _model_misfit(entry, playing, base)
    if why is not None:
        return why
    size = entry.latent_dim
    for k in entry.keyframes:
        if len(k) != size or not all(math.isfinite(x) for x in k):
            return f"a keyframe of size {len(k)} or not finite (the scene's latents are {size})"
    for name, value in entry.parameters.items():
        param = registry.params.get(name)
        if param is None:
            return f"unknown parameter {name!r}"
        if not (param.minimum <= value <= param.maximum):
            return f"{name} {value} is outside {param.minimum}..{param.maximum}"
    if not math.isfinite(entry.navigator.phase):
        return "the navigator phase is not finite"
    return None


def _fields_at(loc: tuple) -> list[str]:
    """The valid keys where an unknown one sits (through lists of scenes, unlike fields_along)."""
    model: Any = SceneFileSchema
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        found = getattr(model, "model_fields", {}).get(part)
        if found is None:
            return []
        args = [a for a in get_args(found.annotation) if hasattr(a, "model_fields")]
        model = args[0] if args else found.annotation
    return list(getattr(model, "model_fields", {}))


def _vectors(rows: list[list[float]]) -> list[np.ndarray]:
    return [np.asarray(r, dtype=np.float32) for r in rows]


def load_scenes(
    path: Path, registry: Registry, latent_dim: int, model_id: str = "", model_sha: str = ""
) -> SceneBook:
    """The scene book at `path` (empty when there is no file yet). Raises ShowError when the
    file itself is malformed; scenes that do not fit are skipped and listed in `skipped`."""
    if not path.exists():
        return SceneBook(path)
    try:
        data, lines = read_yaml(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ShowError(f"{path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise ShowError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenes(data, path, registry, latent_dim, model_id, lines, model_sha=model_sha)


def parse_scenes(
    data: object,
    path: Path,
    registry: Registry,
    latent_dim: int,
    model_id: str = "",
    lines: dict[tuple, int] | None = None,
    source: str | None = None,
    model_sha: str = "",
) -> SceneBook:
    """A scene book from data (a scene file's, or a replay log's copy of one), for a show
    playing the model `model_id` (weights' SHA-256 `model_sha`) of `latent_dim`."""
    book = SceneBook(path)
    source = source or str(path)
    if data is None:
        return book
    if not isinstance(data, dict):
        raise ShowError(
            f"{source}: the top level must be a mapping (version:, keyframes:, scenes:)"
        )
    try:
        schema = SceneFileSchema.model_validate(data)
    except ValidationError as exc:
        messages = [format_error(e, source, lines or {}, _fields_at) for e in exc.errors()]
        raise ShowError("\n".join(messages)) from None
    seen: set[str] = set()
    playing = Playing(latent_dim, model_id, model_sha)
    for entry in schema.scenes:
        why = _misfit(entry, registry, playing, path.parent)
        if why is None and entry.name in seen:
            why = "a second scene of that name"
        if why is not None:
            book.skipped.append(f"{entry.name}: {why}")
            book.foreign.append(entry.model_dump())
            continue
        seen.add(entry.name)
        if model_id and entry.model and entry.model != model_id:
            log.info(
                "scene %r was stored with model %s (%s plays now): a recall brings it back",
                entry.name,
                entry.model,
                model_id,
            )
        params = {k: v for k, v in entry.parameters.items() if k not in NOT_IN_SCENES}
        book.scenes.append(
            Scene(
                entry.name,
                entry.model,
                entry.latent_dim,
                entry.navigator.seed,
                entry.navigator.phase,
                entry.navigator.loop,
                params,
                _vectors(entry.keyframes),
                entry.model_folder,
                entry.model_sha,
            )
        )
    if all(len(k) == latent_dim for k in schema.keyframes):
        book.keyframes = _vectors(schema.keyframes)
    else:
        book.skipped.append(f"working keyframes: not of this model's latent size {latent_dim}")
    for line in book.skipped:
        log.warning("%s: scene skipped, it does not fit this show: %s", path, line)
    return book
