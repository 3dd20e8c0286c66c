"""A scene recall brings its model back: the real loop, display (SDL dummy), watcher and
service, two tiny DCGANs saved with the package's own save_checkpoint."""

from __future__ import annotations

import yaml

from installation.events import ControlEvent
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
