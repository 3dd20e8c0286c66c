"""Real MIDI through JACK: a virtual device's controls move the show's parameters."""

from __future__ import annotations

import os

import pytest
from midi_helpers import Harness, midi_show

from installation.events import ControlEvent
from installation.params import REGISTRY

pytestmark = pytest.mark.usefixtures("jack_server")


def approx(v, tol=1e-3):
    return pytest.approx(v, abs=tol)


def norm(name: str, value: float) -> float:
    return REGISTRY.params[name].from_normalized(value)


def test_cc_moves_a_parameter(device, tmp_path):
    dev = device()
    with Harness(
        midi_show(dev.name, [{"cc": 7, "target": "output.brightness", "takeover": "none"}]),
        tmp_path,
    ) as h:
        h.connected(dev)
        dev.cc(7, 0)
        h.until(lambda: h.targets["output.brightness"] == 0.0, what="brightness 0")
        dev.cc(7, 64)
        h.until(
            lambda: h.targets["output.brightness"] == approx(64 / 127), what="brightness 64/127"
        )
        events = [e for e in h.seen if e.target == "output.brightness"]
        assert events[-1].source == f"midi:{dev.name}:ctl"


def test_14bit_cc_and_nrpn(device, tmp_path):
    dev = device()
    mappings = [
        {"cc14": 1, "target": "latent.truncation", "takeover": "none"},
        {"nrpn": 300, "target": "walk.speed", "takeover": "none"},
        {"nrpn": 301, "bits": 7, "target": "output.brightness", "takeover": "none"},
    ]
    with Harness(midi_show(dev.name, mappings), tmp_path) as h:
        h.connected(dev)
        dev.cc(1, 10)  # MSB
        dev.cc(33, 100)  # LSB: 10 * 128 + 100 = 1380 of 16383
        h.until(
            lambda: h.targets["latent.truncation"] == approx(2.0 * 1380 / 16383, 1e-6),
            what="14-bit value",
        )
        # NRPN 300 = MSB 2, LSB 44; data entry MSB 100, LSB 5.
        for n, v in ((99, 2), (98, 44), (6, 100), (38, 5)):
            dev.cc(n, v)
        h.until(
            lambda: (
                h.targets["walk.speed"] == approx(norm("walk.speed", (100 * 128 + 5) / 16383), 1e-6)
            ),
            what="NRPN 300",
        )
        dev.cc(96, 1)  # data increment: one step of 1/128 of the range
        expected = norm("walk.speed", (100 * 128 + 5) / 16383 + 1 / 128)
        h.until(lambda: h.targets["walk.speed"] == approx(expected, 1e-6), what="NRPN increment")
        for n, v in ((99, 2), (98, 45), (6, 64)):  # a 7-bit NRPN: data entry MSB only
            dev.cc(n, v)
        h.until(
            lambda: h.targets["output.brightness"] == approx(64 / 127, 1e-6), what="7-bit NRPN 301"
        )


def test_relative_encoders(device, tmp_path):
    dev = device()
    step = 1 / 100
    mappings = [
        {"cc": 16, "encoder": "twos_complement", "step": step, "target": "walk.speed"},
        {"cc": 17, "encoder": "binary_offset", "step": step, "target": "latent.truncation"},
        {"cc": 18, "encoder": "signed_bit", "step": step, "target": "output.brightness"},
    ]
    with Harness(midi_show(dev.name, mappings), tmp_path) as h:
        h.connected(dev)
        start = dict(h.targets)
        for v in (1, 1, 3, 127):  # +1 +1 +3 -1 ticks
            dev.cc(16, v)
        for v in (65, 66, 63):  # +1 +2 -1
            dev.cc(17, v)
        for v in (2, 65, 67):  # +2 (already at the top: clamped) -1 -3
            dev.cc(18, v)
        h.until(
            lambda: (
                h.targets["walk.speed"] == approx(start["walk.speed"] + 4 * step * 4.0)
                and h.targets["latent.truncation"]
                == approx(start["latent.truncation"] + 2 * step * 2.0)
                and h.targets["output.brightness"] == approx(1.0 - 4 * step)
            ),
            what="encoder steps",
        )


def test_notes_trigger_gate_velocity(device, tmp_path):
    dev = device()
    mappings = [
        {"note": 60, "target": "screenshot"},
        {"note": 61, "target": "walk.paused"},  # a bool: each press toggles
        {"note": 62, "mode": "gate", "target": "hud.visible"},
        {"note": 63, "mode": "velocity", "target": "output.brightness", "takeover": "none"},
    ]
    with Harness(midi_show(dev.name, mappings), tmp_path) as h:
        h.connected(dev)
        dev.send(0x90, 60, 100)
        dev.send(0x80, 60, 0)
        h.until(lambda: any(e.target == "screenshot" for e in h.seen), what="screenshot action")
        dev.send(0x90, 61, 127)
        h.until(lambda: h.targets["walk.paused"] == 1.0, what="pause toggled on")
        dev.send(0x90, 61, 127)
        h.until(lambda: h.targets["walk.paused"] == 0.0, what="pause toggled off")
        dev.send(0x90, 62, 90)
        h.until(lambda: h.targets["hud.visible"] == 1.0, what="gate on")
        dev.send(62, 0)  # running status: note on, velocity 0 = note off
        h.until(lambda: h.targets["hud.visible"] == 0.0, what="gate off")
        dev.send(0x90, 63, 32)
        h.until(lambda: h.targets["output.brightness"] == approx(32 / 127), what="velocity")
        assert sum(1 for e in h.seen if e.target == "screenshot") == 1  # note-off triggers nothing


def test_pitch_bend_and_program_change_scene(device, tmp_path):
    dev = device()
    data = midi_show(
        dev.name,
        [
            {"pitchbend": True, "range": [-1.0, 1.0], "target": "walk.speed", "takeover": "none"},
            {"program": 4, "scene": "wild"},
        ],
    )
    data["scenes"] = {
        "calm": {"walk.speed": 0.1, "latent.truncation": 0.5},
        "wild": {"latent.truncation": 1.5, "output.brightness": 0.7},
    }
    with Harness(data, tmp_path) as h:
        h.connected(dev)
        dev.send(0xE0, 0x7F, 0x7F)  # full up
        h.until(lambda: h.targets["walk.speed"] == approx(1.0), what="bend up")
        dev.send(0xE0, 0x00, 0x40)  # centre
        h.until(lambda: h.targets["walk.speed"] == approx(8192 / 16383 * 2 - 1), what="bend centre")
        dev.send(0xC0, 4)
        h.until(
            lambda: h.targets["latent.truncation"] == 1.5 and h.targets["output.brightness"] == 0.7,
            what="scene wild",
        )
        assert any("scene wild" in line for line in h.mapper.hud_lines())


def test_running_status_odd_channels_and_unmapped(device, tmp_path):
    dev = device()
    mappings = [{"cc": 7, "channel": 16, "target": "output.brightness", "takeover": "none"}]
    with Harness(midi_show(dev.name, mappings), tmp_path) as h:
        h.connected(dev)
        dev.send(0xBF, 7, 10)  # channel 16
        dev.send(7, 20)  # running status: the status byte is left out
        h.until(
            lambda: h.targets["output.brightness"] == approx(20 / 127), what="running status CC"
        )
        dev.send(0xB2, 7, 127)  # channel 3: not mapped
        dev.send(0xA0, 60, 10)  # poly aftertouch: not mapped
        dev.send(0xF6)  # tune request: system common, cancels running status
        dev.send(7, 99)  # a data byte with no status now: invalid
        h.until(
            lambda: h.service.status().unmapped >= 3 and h.service.status().invalid >= 1,
            what="counters",
            timeout=3.0,
        )
        h.step()
        assert h.targets["output.brightness"] == approx(20 / 127)
        assert any("unmapped" in line for line in h.mapper.hud_lines())


def test_takeover_pickup_and_two_devices(device, tmp_path):
    a, b = device("faderA"), device("faderB")
    data = {
        "midi": {
            "api": "jack",
            "poll_s": 0.2,
            "takeover": "pickup",
            "devices": [{"port": a.name, "profile": "none"}, {"port": b.name, "profile": "none"}],
            "mappings": [{"cc": 0, "target": "output.brightness"}],
        }
    }
    with Harness(data, tmp_path) as h:
        h.connected(a)
        h.connected(b)
        assert h.targets["output.brightness"] == 1.0
        a.cc(0, 20)  # far from the current 1.0: ignored
        a.cc(0, 40)
        h.received(2)
        assert h.targets["output.brightness"] == 1.0
        a.cc(0, 126)  # within tolerance of 1.0: picked up
        a.cc(0, 100)
        h.until(lambda: h.targets["output.brightness"] == approx(100 / 127), what="A picked up")
        b.cc(0, 10)  # B is elsewhere: it must cross the value first
        b.cc(0, 30)
        h.received(6)
        assert h.targets["output.brightness"] == approx(100 / 127)
        b.cc(0, 110)  # crossed 100: B takes over, last writer wins
        h.until(lambda: h.targets["output.brightness"] == approx(110 / 127), what="B took over")
        a.cc(0, 90)  # A let go when B moved it: A must pick it up again
        h.received(8)
        assert h.targets["output.brightness"] == approx(110 / 127)
        a.cc(0, 115)  # crosses 110: A is back
        h.until(lambda: h.targets["output.brightness"] == approx(115 / 127), what="A back")


def test_takeover_scale_meets_without_a_jump(device, tmp_path):
    dev = device()
    mappings = [{"cc": 0, "target": "output.brightness", "takeover": "scale"}]
    with Harness(midi_show(dev.name, mappings), tmp_path) as h:
        h.connected(dev)
        h.hooks.events.put(ControlEvent("output.brightness", 0.5, source="keyboard"))
        h.step()
        dev.cc(0, 0)  # the fader is at the bottom, the value half way: nothing yet
        h.received(1)
        assert h.targets["output.brightness"] == 0.5
        dev.cc(0, 32)  # a quarter up: the value covers a quarter of its way to the top
        h.received(2)
        assert h.targets["output.brightness"] == approx(0.5 + (32 / 127) * 0.5)
        dev.cc(0, 127)  # they meet at the top
        h.received(3)
        assert h.targets["output.brightness"] == 1.0
        dev.cc(0, 20)  # and from then on it follows
        h.until(lambda: h.targets["output.brightness"] == approx(20 / 127), what="following")


def test_feedback_lights_leds_without_echo(device, tmp_path):
    dev = device(feedback=True)
    mappings = [
        {"note": 41, "target": "walk.paused", "feedback": True, "led_on": 60, "led_off": 12},
        {"cc": 7, "target": "output.brightness", "feedback": True, "takeover": "none"},
    ]
    data = midi_show(dev.name, mappings, device={"output": dev.feedback_port})
    with Harness(data, tmp_path) as h:
        h.connected(dev)
        # On connect the device is shown the current state.
        h.until(
            lambda: [0x90, 41, 12] in dev.messages() and [0xB0, 7, 127] in dev.messages(),
            what="initial LED state",
        )
        h.hooks.events.put(ControlEvent("walk.paused", 1.0, source="keyboard"))
        h.until(lambda: [0x90, 41, 60] in dev.messages(), what="LED on after a keyboard change")
        h.hooks.events.put(ControlEvent("output.brightness", 0.25, source="osc"))
        h.until(lambda: [0xB0, 7, 32] in dev.messages(), what="motor fader follows another source")
        before = len(dev.messages())
        dev.cc(7, 50)  # the fader itself moved: its own value must not be echoed back to it
        h.until(lambda: h.targets["output.brightness"] == approx(50 / 127), what="fader")
        h.settle(0.3)
        assert [0xB0, 7, 50] not in dev.messages()[before:]
        # The output was opened in the helper process (rtmidi holds the GIL while opening a
        # port, which would stall the render thread), and that process ends with the service.
        helper = h.service._helper._proc
        assert helper is not None and helper.poll() is None and helper.pid != os.getpid()
    assert helper.poll() is not None  # no orphan left behind


def test_a_velocity_note_applies_under_the_default_pickup_takeover(device, tmp_path):
    dev = device()
    # No takeover given: the show's default (pickup) would wait forever for a note to "reach"
    # the current value; notes have no physical position, so they are exempt.
    with Harness(
        midi_show(dev.name, [{"note": 63, "mode": "velocity", "target": "output.brightness"}]),
        tmp_path,
    ) as h:
        h.connected(dev)
        dev.send(0x90, 63, 32)
        h.until(lambda: h.targets["output.brightness"] == approx(32 / 127), what="velocity applied")
        dev.send(0x90, 63, 100)
        h.until(lambda: h.targets["output.brightness"] == approx(100 / 127), what="and again")


def test_unplugging_releases_a_held_gate(device, tmp_path):
    dev = device("gate")
    with Harness(
        midi_show(
            dev.name,
            [
                {"note": 62, "mode": "gate", "target": "hud.visible"},
                {"cc": 20, "mode": "gate", "target": "walk.paused"},
            ],
            poll_s=0.2,
        ),
        tmp_path,
    ) as h:
        h.connected(dev)
        dev.send(0x90, 62, 90)
        dev.cc(20, 127)
        h.until(
            lambda: h.targets["hud.visible"] == 1.0 and h.targets["walk.paused"] == 1.0,
            what="gates on",
        )
        dev.close()  # pulled while both are held: no note-off ever comes
        h.until(
            lambda: h.targets["hud.visible"] == 0.0 and h.targets["walk.paused"] == 0.0,
            timeout=5.0,
            what="gates released on unplug",
        )
