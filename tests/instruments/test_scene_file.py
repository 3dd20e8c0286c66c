"""The scene file: atomic saves, validated like show.yaml, scenes that do not fit skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from installation.checkpoints import read_card
from installation.config.base import ShowError
from installation.instruments.modes import seeded_latent
from installation.instruments.scenes import Scene, SceneBook, load_scenes
from installation.params import REGISTRY
from tests.conftest import make_model
from tests.instruments.support import Stepped, ev


def _book(path: Path, dim: int = 8) -> SceneBook:
    book = SceneBook(path, keyframes=[seeded_latent(1, dim)])
    book.scenes.append(
        Scene("intro", "tiny", dim, 4, 2.5, True, {"walk.speed": 0.3}, [seeded_latent(2, dim)])
    )
    book.scenes.append(Scene("drop", "tiny", dim, 5, 0.0, False, {"jitter.amount": 0.4}))
    return book


def test_a_saved_book_loads_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "scenes.yaml"
    _book(path).save()
    assert [p.name for p in tmp_path.iterdir()] == ["scenes.yaml"]  # no temp file left behind
    book = load_scenes(path, REGISTRY, 8, "tiny")
    assert book.names() == ["intro", "drop"] and book.skipped == []
    intro = book.scenes[0]
    assert (intro.seed, intro.phase, intro.loop, intro.parameters) == (
        4,
        2.5,
        True,
        {"walk.speed": 0.3},
    )
    np.testing.assert_array_equal(intro.keyframes[0], seeded_latent(2, 8))
    np.testing.assert_array_equal(book.keyframes[0], seeded_latent(1, 8))


def test_a_missing_file_is_an_empty_book(tmp_path: Path) -> None:
    assert load_scenes(tmp_path / "none.yaml", REGISTRY, 8).scenes == []


def test_a_wrong_key_names_its_line_and_a_spelling(tmp_path: Path) -> None:
    path = tmp_path / "scenes.yaml"
    path.write_text(
        "version: 1\nscenes:\n  - name: a\n    latent_dim: 8\n    paramters: {}\n", encoding="utf-8"
    )
    with pytest.raises(
        ShowError,
        match=r"scenes.yaml:5: scenes.0.paramters: unknown key \(did you mean 'parameters'\?\)",
    ):
        load_scenes(path, REGISTRY, 8)
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ShowError, match="top level must be a mapping"):
        load_scenes(path, REGISTRY, 8)


def test_scenes_from_another_model_or_build_are_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "scenes.yaml"
    book = _book(path)
    book.scenes.append(Scene("big", "other", 512, 1, 0.0, False, {}))
    book.scenes.append(Scene("future", "tiny", 8, 1, 0.0, False, {"warp.speed": 1.0}))
    book.scenes.append(Scene("loud", "tiny", 8, 1, 0.0, False, {"walk.speed": 99.0}))
    book.save()
    loaded = load_scenes(path, REGISTRY, 8, "tiny")
    assert loaded.names() == ["intro", "drop"]
    assert [line.split(":")[0] for line in loaded.skipped] == ["big", "future", "loud"]
    assert "size 512" in loaded.skipped[0] and "warp.speed" in loaded.skipped[1]


def _signed(name: str, model: str, sha: str, dim: int = 8, folder: Path | None = None) -> Scene:
    return Scene(name, model, dim, 1, 0.0, False, {}, model_folder=str(folder or ""), model_sha=sha)


def test_scenes_match_their_model_by_signature_and_the_misfits_stay_in_the_file(
    tmp_path: Path,
) -> None:
    """Real checkpoints on disk: the one playing, a retrained one of the same name (another
    sha256), and another show's model in its folder; only what can be played is loaded."""
    playing = read_card(make_model(tmp_path / "tiny", latent_dim=8, seed=1))
    old_tiny = read_card(make_model(tmp_path / "old-tiny", latent_dim=8, seed=2))
    other = read_card(make_model(tmp_path / "other", name="other", latent_dim=12, seed=3))
    path = tmp_path / "scenes.yaml"
    book = SceneBook(path)
    book.scenes += [
        _signed("here", "tiny", playing.sha256),
        _signed("retrained", "tiny", old_tiny.sha256),  # its folder holds it no longer
        Scene(
            "reachable", "other", 12, model_folder=str(tmp_path / "other"), model_sha=other.sha256
        ),
        _signed("foreign", "x", "ab" * 32, folder=tmp_path / "other"),  # another show's file
        Scene("unsigned", "tiny", 8),  # an older file: matched by id and size
    ]
    book.save()

    loaded = load_scenes(path, REGISTRY, 8, "tiny", playing.sha256)
    assert loaded.names() == ["here", "reachable", "unsigned"]
    assert [line.split(":")[0] for line in loaded.skipped] == ["retrained", "foreign"]
    assert "retrained since" in loaded.skipped[0]
    assert "x abababababab" in loaded.skipped[1] and "it holds other" in loaded.skipped[1]

    loaded.scenes.append(_signed("new", "tiny", playing.sha256))
    loaded.save()  # a store: the skipped scenes are written back, not lost
    again = load_scenes(path, REGISTRY, 8, "tiny", playing.sha256)
    assert again.names() == ["here", "reachable", "unsigned", "new"]
    assert [line.split(":")[0] for line in again.skipped] == ["retrained", "foreign"]
    # The show that trained old-tiny loads its scene again from the same file.
    assert "retrained" in load_scenes(path, REGISTRY, 8, "tiny", old_tiny.sha256).names()


def test_with_hot_swap_off_a_scene_of_another_size_recalls_its_parameters_only(
    tmp_path: Path,
) -> None:
    """A real 24-dim model on disk, a 16-dim show without hot-swap: the scene loads (its model
    is in its folder), a recall glides its parameters and says its walk cannot play here."""
    card = read_card(make_model(tmp_path / "wide", name="wide", latent_dim=24))
    scene = Scene("wide", "wide", 24, 9, 2.5, False, {"walk.speed": 0.3}, [seeded_latent(1, 24)])
    scene.model_folder, scene.model_sha = str(tmp_path / "wide"), card.sha256
    SceneBook(tmp_path / "scenes.yaml", [scene]).save()
    show = Stepped(tmp_path)
    try:
        inst = show.instrument
        assert inst.desk.book.names() == ["wide"] and inst.nav.latent_dim == 16
        show.run(3, {1: [ev("morph.time", 0.2)], 2: [ev("cue.jump", 1.0)]})
        show.run(10)
        assert show.targets[-1]["walk.speed"] == pytest.approx(0.3)
        assert (inst.nav.latent_dim, inst.nav.seed, inst.awaiting) == (16, 3, None)
        notes = [text for _, text in inst.notes]
        assert any("its walk cannot play here" in t for t in notes)
        assert any("model wide not available (hot-swap is off)" in t for t in notes)
    finally:
        show.close()
