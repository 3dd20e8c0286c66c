"""MIDI mappings survive a hundred scene recalls, through real JACK MIDI: a note steps the
cue list, a fader still steers afterwards, and the binding tables are the same objects."""

from __future__ import annotations

import math
import time

import pytest
from midi_helpers import FakeDevice

from installation.control.midi.service import MidiService
from tests.instruments.support import Stepped, ev, show_dict


@pytest.mark.usefixtures("jack_server")
def test_midi_mappings_survive_a_hundred_recalls(tmp_path, device):
    dev: FakeDevice = device("scenes")
    data = show_dict(tmp_path, morph_s=0.0)
    data["parameters"] = {"walk.speed": {"smoothing": 0}}
    data["midi"] = {
        "api": "jack",
        "poll_s": 0.2,
        "devices": [{"port": dev.name, "profile": "none"}],
        "mappings": [
            {"cc": 7, "target": "walk.speed", "takeover": "none"},
            {"note": 36, "target": "cue.go"},
            {"note": 37, "target": "cue.back"},
        ],
    }
    show = Stepped(tmp_path, data)
    try:
        service = next(s for s in show.runtime.services if isinstance(s, MidiService))
        deadline = time.monotonic() + 10
        while not service._inputs and time.monotonic() < deadline:  # the device is found
            show.step()
            time.sleep(0.02)
        assert service._inputs, "the fake controller was not found on JACK"
        show.run(2, {show.loop.frame: [ev("scene.store", math.nan, "a")]})
        show.run(2, {show.loop.frame: [ev("walk.speed", 1.0), ev("scene.store", math.nan, "b")]})

        def tables() -> dict:
            return {d: opened.decoder.table for d, opened in service._inputs.items()}

        before = tables()
        for i in range(100):  # alternate through the cue list from the controller's pads
            dev.send(0x90, 37 if i % 2 == 0 else 36, 100)
            cue = 0 if i % 2 == 0 else 1
            deadline = time.monotonic() + 5
            while show.instrument.desk.cue != cue and time.monotonic() < deadline:
                show.step()
        assert show.instrument.desk.cue == 1
        after = tables()  # the very same binding tables: nothing rebuilt or touched them
        assert after.keys() == before.keys()
        assert all(after[d] is before[d] for d in before)
        dev.cc(7, 0)  # the fader at the bottom: walk.speed's minimum
        deadline = time.monotonic() + 5
        while show.loop.targets["walk.speed"] != -2.0 and time.monotonic() < deadline:
            show.step()
            time.sleep(0.005)
        assert show.loop.targets["walk.speed"] == -2.0
    finally:
        show.close()
