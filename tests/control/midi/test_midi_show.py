"""The MIDI service inside a real running show: render loop, dummy display, stats file."""

from __future__ import annotations

import threading
import time

import pytest
from midi_helpers import FakeDevice

from installation.app import RunOptions, ShowRuntime
from installation.checkpoints import save_checkpoint
from installation.config.show import parse_show
from installation.control.midi.service import MidiService
from installation.networks import build_model
from installation.stats import read_stats


def tiny_show(tmp_path, midi: dict) -> dict:
    config = {"latent_dim": 8, "resolution": 28, "hidden": 8, "channels": 1}
    save_checkpoint(
        tmp_path / "models" / "tiny",
        build_model("mlp", config),
        name="tiny",
        architecture="mlp",
        config=config,
    )
    return {
        "display": {"size": [64, 64], "fps": 30, "fullscreen": False, "hud": True, "vsync": False},
        "model": {"path": "models/tiny", "device": "cpu"},
        "midi": midi,
        "osc": {"enabled": False},
    }  # OSC has its own tests; here it would bind port 9000


@pytest.mark.usefixtures("jack_server")
def test_a_fader_changes_the_running_show(tmp_path, device):
    dev: FakeDevice = device("show")
    data = tiny_show(
        tmp_path,
        {
            "api": "jack",
            "poll_s": 0.2,
            "devices": [{"port": dev.name, "profile": "none"}],
            "mappings": [{"cc": 7, "target": "output.brightness", "takeover": "none"}],
        },
    )
    show = parse_show(data, base_dir=tmp_path)
    stats = tmp_path / "stats.jsonl"
    runtime = ShowRuntime(show, RunOptions(headless=True, seconds=4.0, stats=stats))
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        service = next(s for s in runtime.services if isinstance(s, MidiService))

        def perform() -> None:
            deadline = time.monotonic() + 3.0
            while not service.status().devices and time.monotonic() < deadline:
                time.sleep(0.02)
            dev.cc(7, 0)

        performer = threading.Thread(target=perform, daemon=True)
        performer.start()
        loop.run()
        performer.join()
        hud = loop._hud_text()
    finally:
        runtime.close()
    frames, events = read_stats(stats)
    midi_inputs = [
        i for f in frames for i in f.get("inputs", []) if i["source"].startswith("midi:")
    ]
    assert [i["target"] for i in midi_inputs] == ["output.brightness"]
    assert frames[-1]["params"]["output.brightness"] < 0.5  # slewing toward 0 with its smoothing
    assert any(e["event"] == "midi_device" and e["state"] == "connected" for e in events)
    assert any(line.startswith("MIDI: ") for line in hud)


def test_phase_sync_hook_takes_over_the_walk(tmp_path):
    show = parse_show(tiny_show(tmp_path, {"enabled": False}), base_dir=tmp_path)
    runtime = ShowRuntime(show, RunOptions(headless=True, frames=3, fixed_step=True))
    try:
        loop = runtime.build_loop()
        loop.run()
        free = loop.phase
        assert free > 0  # walk.speed moves it
        runtime.hooks.phase_sync = (
            lambda phase, values, dt, now: None,
            lambda phase, values, dt, now: 42.0,
        )
        loop.step()
        assert loop.phase == 42.0
    finally:
        runtime.close()
