"""A scene recall brings its model back: the real loop, display (SDL dummy), watcher and
service, tiny DCGANs (two latent sizes) saved with the package's own save_checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from installation.checkpoints import read_card
from installation.events import ControlEvent
from installation.instruments.modes import seeded_latent
from installation.navigator import Navigator
from tests.live._hotswap_util import TINY, save
from tests.live.test_live import Show


def _go(show, n):
    show.loop.hooks.events.put(ControlEvent("cue.jump", float(n), source="osc:test"))


def _scene(name, model, folder, speed):
    return {
        "name": name,
        "model": model,
        "model_folder": str(folder),
        "latent_dim": TINY["latent_dim"],
        "parameters": {"walk.speed": speed},
    }


def test_recall_brings_back_the_model_of_the_history_and_of_a_folder(tmp_path):
    save(tmp_path / "elsewhere", step=7, seed=3, name="other")  # not watched: only named
    scenes = [_scene("far", "other", tmp_path / "elsewhere", 0.3)]
    (tmp_path / "scenes.yaml").write_text(yaml.safe_dump({"scenes": scenes}))
    show = Show(tmp_path)
    try:
        show.frames(2)
        show.loop.hooks.events.put(ControlEvent("scene.store", 0.0, source="osc:test", text="home"))
        show.frames(2)
        save(show.drop / "a", step=5)  # "live" v5 takes over
        show.run_until(lambda: show.events("swap"))
        assert show.loop.renderer.model.id == "live"

        _go(show, 2)  # "home", stored while "show" played: back from the history
        show.run_until(lambda: len(show.events("swap")) == 2)
        assert show.loop.renderer.model.id == "show"
        show.frames(2)
        assert show.loop.targets["model.pinned"] == 1.0  # a newer checkpoint must not undo it

        _go(show, 1)  # "far": validated from its folder, then swapped in
        show.run_until(lambda: len(show.events("swap")) == 3)
        assert (show.loop.renderer.model.id, show.loop.renderer.model.version) == ("other", 7)
        show.run_until(lambda: abs(show.loop.targets["walk.speed"] - 0.3) < 1e-6)
    finally:
        show.close()


def test_a_scene_whose_model_is_gone_recalls_the_rest_and_says_so(tmp_path):
    scenes = [_scene("lost", "ghost", tmp_path / "nowhere", 0.4)]
    (tmp_path / "scenes.yaml").write_text(yaml.safe_dump({"scenes": scenes}))
    show = Show(tmp_path)
    try:
        show.frames(2)
        _go(show, 1)
        show.run_until(lambda: abs(show.loop.targets["walk.speed"] - 0.4) < 1e-6)
        show.run_until(lambda: any("ghost not available" in h for h in show.service.hud_lines()))
        show.frames(5)
        assert show.events("swap") == [] and show.loop.renderer.model.id == "show"
        assert any("bringing back model ghost" in text for _, text in show.runtime.instrument.notes)
    finally:
        show.close()


WIDE = {**TINY, "latent_dim": 24}  # a second real model, of another latent size


def test_a_scene_of_another_latent_size_gets_its_walk_back_when_its_model_lands(tmp_path):
    save(tmp_path / "elsewhere", step=3, seed=5, name="wide", config=WIDE)
    card = read_card(tmp_path / "elsewhere")
    keyframes = [seeded_latent(s, 24).tolist() for s in (1, 2)]
    wide = {
        **_scene("wide", "wide", tmp_path / "elsewhere", 0.3),
        "model_sha": card.sha256,
        "latent_dim": 24,
        "navigator": {"seed": 9, "phase": 2.5},
        "keyframes": keyframes,
    }
    (tmp_path / "scenes.yaml").write_text(yaml.safe_dump({"scenes": [wide]}))
    show = Show(tmp_path)
    inst = show.runtime.instrument
    try:
        assert [s.name for s in inst.desk.book.scenes] == ["wide"]  # its model is on disk
        show.frames(2)
        show.loop.hooks.events.put(ControlEvent("scene.store", 0.0, source="osc:test", text="home"))
        show.frames(2)
        home_phase = inst.desk.book.scenes[1].phase

        _go(show, 1)
        show.frames(1)
        assert inst.awaiting is not None and inst.nav.latent_dim == 16  # the 16-d walk plays on
        show.run_until(lambda: show.loop.renderer.model.id == "wide")
        # The frame the model landed on: the scene's seed, phase and keyframes, in 24 dims.
        assert (inst.nav.latent_dim, inst.nav.seed, inst.awaiting) == (24, 9, None)
        assert show.loop.phase == pytest.approx(2.5)
        walk = Navigator(24, 9, inst.nav.mode, inst.nav.easing)
        psi = show.loop.values["latent.truncation"]
        np.testing.assert_allclose(inst.z_last, walk.position(2.5, psi), atol=1e-6)
        np.testing.assert_allclose(np.array(inst.desk.book.keyframes), keyframes, atol=1e-6)
        show.run_until(lambda: abs(show.loop.targets["walk.speed"] - 0.3) < 1e-6)
        assert any("its walk is back with model wide" in t for _, t in inst.notes)

        _go(show, 2)  # and back: "home", the 16-d show model's scene
        show.run_until(lambda: show.loop.renderer.model.id == "show")
        assert inst.nav.latent_dim == 16 and show.loop.phase == pytest.approx(home_phase)
    finally:
        show.close()


def test_a_scene_comes_back_by_its_model_signature_not_its_name(tmp_path):
    """Two checkpoints with one name ("live" v5, then v6 in the same folder): the scene stored
    with v5 brings v5 back from the history, though a model called "live" plays."""
    show = Show(tmp_path)
    try:
        show.frames(2)
        save(show.drop / "a", step=5)
        show.run_until(lambda: show.loop.renderer.model.version == 5)
        show.loop.hooks.events.put(ControlEvent("scene.store", 0.0, source="osc:test", text="v5"))
        show.frames(2)
        assert show.runtime.instrument.desk.book.scenes[0].model_sha == (
            show.loop.renderer.model.card.sha256
        )
        save(show.drop / "a", step=6)
        show.run_until(lambda: show.loop.renderer.model.version == 6)
        _go(show, 1)
        show.run_until(lambda: show.loop.renderer.model.version == 5)
        assert show.loop.renderer.model.id == "live"
    finally:
        show.close()
