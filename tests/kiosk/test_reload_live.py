"""Live reload of scenes, MIDI mappings, `performance:` and the scene file: real files
edited on disk under a real render loop (dummy display) and a real MIDI service thread.

MIDI needs no JACK server here: a replayed MIDI file stands in for a device (its decoder is
the one a plugged-in controller gets), and JACK_DEFAULT_SERVER names a server that is not
there, so the service looks for ports and finds none, as on a machine with none plugged.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import yaml

from installation.app import RunOptions, ShowRuntime
from installation.config.show import load_show
from installation.events import ControlEvent
from installation.instruments.scenes import Scene, SceneBook


def _write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _midi_file(path: Path) -> None:
    midi = mido.MidiFile()
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.Message("control_change", control=7, value=64, time=0))
    midi.save(path)


def _start(data: dict, tmp_path: Path) -> ShowRuntime:
    path = tmp_path / "show.yaml"
    _write(path, data)
    rt = ShowRuntime(
        load_show(path),
        RunOptions(headless=True, fixed_step=True, fps=30, show_path=path),
    )
    rt.build_loop()
    rt.start_services()
    return rt


def _until(rt: ShowRuntime, predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        rt.loop.clock.sleep_until(rt.loop.clock.now() + 1 / 30)
        rt.loop.step()
        time.sleep(0.02)


def _hud(rt: ShowRuntime) -> list[str]:
    return [line for source in rt.hooks.hud_lines for line in source()]


def _cc7(rt: ShowRuntime) -> str:
    midi = next(s for s in rt.services if hasattr(s, "remap"))
    (decoder,) = midi.decoders().values()
    return decoder.table.lookup("cc", 0, 7)[0].target


@pytest.fixture
def midi_show(show_dict, tmp_path, monkeypatch) -> dict:
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "no-such-jack-server")
    _midi_file(tmp_path / "rehearsal.mid")
    return {
        **show_dict,
        "scenes": {"calm": {"walk.speed": 0.1}},
        "midi": {
            "api": "jack",
            "devices": [],
            "replay": [{"file": "rehearsal.mid", "profile": "none"}],
            "mappings": [{"cc": 7, "target": "output.brightness"}],
        },
        "performance": {"morph_s": 4.0, "quantize": "bar"},
        "kiosk": {"attract": {"after_min": 30}},
    }


def test_scenes_midi_mappings_and_performance_apply_live(midi_show, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    rt = _start(midi_show, tmp_path)
    try:
        loop, inst = rt.loop, rt.instrument
        reloader = rt.services[-1].reloader
        _until(rt, lambda: _cc7(rt) == "output.brightness", "the MIDI decoder")
        edited = {
            **midi_show,
            "scenes": {"calm": {"walk.speed": 0.1}, "wild": {"walk.speed": 1.5}},
            "midi": {
                **midi_show["midi"],
                "mappings": [
                    {"cc": 7, "target": "jitter.amount"},
                    {"program": 1, "scene": "wild"},
                ],
                "poll_s": 2.0,  # restart-only: named, not applied
            },
            "performance": {
                "morph_s": 1.5,
                "quantize": "beat",
                "loop_spline": True,
                "envelopes": [{"input": "signal.1", "target": "jitter.amount"}],
            },
        }
        _write(tmp_path / "show.yaml", edited)
        _until(rt, lambda: any("applied" in line for line in _hud(rt)), "the reload")
        applied = next(line for line in _hud(rt) if "applied" in line)
        assert applied == (
            "show.yaml applied: scenes, midi.mappings, performance.morph_s, "
            "performance.quantize, performance.loop_spline, performance.envelopes"
        )
        assert "show.yaml: restart to apply midi.poll_s" in _hud(rt)
        assert any(
            "need a restart" in r.getMessage() and "midi.poll_s" in r.getMessage()
            for r in caplog.records
        )
        assert inst.config.quantize == "beat" and inst.config.loop_spline
        assert [e.target for e in inst.envelopes.configs] == ["jitter.amount"]
        assert loop.targets["morph.time"] == 1.5  # morph_s is morph.time's default
        assert [name for name, _ in reloader.attract.scenes] == ["calm", "wild"]
        _until(rt, lambda: _cc7(rt) == "jitter.amount", "the MIDI table rebuilt")
        midi = next(s for s in rt.services if hasattr(s, "remap"))
        (decoder,) = midi.decoders().values()
        assert set(decoder.scenes) == {"calm", "wild"}  # program changes recall the new scenes
        assert midi.cfg.poll_s == 1.0  # the restart-only key waits for a restart
    finally:
        rt.close()


def test_an_invalid_midi_or_performance_edit_is_rejected_and_nothing_changes(
    midi_show, tmp_path, caplog
) -> None:
    rt = _start(midi_show, tmp_path)
    try:
        inst = rt.instrument
        _until(rt, lambda: _cc7(rt) == "output.brightness", "the MIDI decoder")
        config, envelopes = inst.config, inst.envelopes
        bad_midi = {
            **midi_show,
            "midi": {
                **midi_show["midi"],
                "mappings": [{"cc": 7, "target": "jitter.amount"}, {"program": 1, "scene": "nope"}],
            },
        }
        _write(tmp_path / "show.yaml", bad_midi)
        _until(rt, lambda: any("rejected" in line for line in _hud(rt)), "the rejection")
        (line,) = [line for line in _hud(rt) if "rejected" in line]
        assert "'nope'" in line
        bad_performance = {**midi_show, "performance": {"morph_s": 100, "quantize": "beat"}}
        _write(tmp_path / "show.yaml", bad_performance)
        _until(rt, lambda: any("morph_s" in line for line in _hud(rt)), "the second rejection")
        for _ in range(3):
            rt.loop.step()
        assert _cc7(rt) == "output.brightness"
        assert inst.config is config and inst.envelopes is envelopes
        assert rt.services[-1].reloader.reloads == 0
        assert sum("show.yaml edit rejected" in r.getMessage() for r in caplog.records) == 2
    finally:
        rt.close()


def _book(path: Path, names: list[str], keyframes: list[np.ndarray]) -> None:
    scenes = [
        Scene(name, "tiny", 16, seed=i + 1, parameters={"latent.truncation": 0.5 + 0.2 * i})
        for i, name in enumerate(names)
    ]
    SceneBook(path, scenes, keyframes).save()


def test_the_scene_file_edited_by_hand_is_read_back_but_not_the_shows_own_saves(
    show_dict, tmp_path
) -> None:
    scene_file = tmp_path / "scenes.yaml"
    rng = np.random.default_rng(0)
    first = [rng.standard_normal(16).astype(np.float32) for _ in range(2)]
    _book(scene_file, ["dawn"], first)
    rt = _start(show_dict, tmp_path)
    try:
        loop, inst = rt.loop, rt.instrument
        reloader = rt.services[-1].reloader
        reloader.stop()  # this test drives the look by hand: check() is what the thread runs
        loop.targets = {**loop.targets, "loop.on": 1.0}
        for _ in range(3):
            loop.step()
        assert inst.desk.book.names() == ["dawn"] and inst.morph is None
        # A technician's edit: a second scene and new loop keyframes.
        second = [rng.standard_normal(16).astype(np.float32) for _ in range(3)]
        _book(scene_file, ["dawn", "dusk"], second)
        reloader.check()
        loop.step()
        assert inst.desk.book.names() == ["dawn", "dusk"]
        assert len(inst.desk.loop_keyframes()) == 3
        assert inst.morph is not None and inst.morph.label == "scene file: new keyframes"
        assert any(line.startswith("scenes.yaml applied: 2 scene(s)") for line in _hud(rt))
        # The show's own save (a store from a controller) is not taken for an edit.
        book = inst.desk.book
        loop.hooks.events.put(ControlEvent("scene.store", float("nan"), text="night"))
        loop.step()
        deadline = time.monotonic() + 10
        while "night" not in scene_file.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "the scene writer did not save"
            time.sleep(0.02)
        reloads = reloader.reloads
        reloader.check()
        loop.step()
        assert inst.desk.book is book and reloader.reloads == reloads
        # A broken edit is rejected: the book in memory plays on.
        scene_file.write_text(scene_file.read_text() + "scens: []\n", encoding="utf-8")
        reloader.check()
        loop.step()
        assert inst.desk.book is book and book.names() == ["dawn", "dusk", "night"]
        (line,) = [line for line in _hud(rt) if "rejected" in line]
        assert line.startswith("scenes.yaml rejected:") and "scens" in line
    finally:
        rt.close()
