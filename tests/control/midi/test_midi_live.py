"""Real MIDI through JACK: clock, hot-plug, learn, floods, profiles and `installation devices`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from midi_helpers import REPO, FakeDevice, Harness, midi_show

from installation.cli import main
from installation.config.show import parse_show
from installation.control.midi.config import load_profile
from installation.events import ControlEvent
from tests.waiting import wait_for

pytestmark = pytest.mark.usefixtures("jack_server")


SYSEX = (0xF0, 0x7D, *([0x55] * 250), 0xF7)


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def paced(send, count: int, burst: int = 32, pause: float = 0.004) -> None:
    """Send as fast as JACK's buffers take it (a few MB/s), in bursts.

    The sleep paces the sender (JACK's ring buffer drops what overflows it); it does not
    synchronise with the show, whose side the tests wait for on conditions."""
    for i in range(count):
        send(i)
        if i % burst == burst - 1:
            time.sleep(pause)


def test_clock_tempo_and_transport(device, tmp_path):
    dev = device("clock")
    with Harness(midi_show(dev.name, []), tmp_path) as h:
        h.connected(dev)
        stop = threading.Event()

        def play(bpm: float) -> None:
            period = 60.0 / bpm / 24
            due = time.monotonic()
            while not stop.is_set():
                dev.send(0xF8)
                due += period
                # The ticks' timing is what is under test: a clock at `bpm`, paced in real time.
                time.sleep(max(0.0, due - time.monotonic()))

        dev.send(0xFA)  # Start
        sender = threading.Thread(target=play, args=(120.0,), daemon=True)
        sender.start()
        try:
            h.until(
                lambda: h.mapper.clock.latest is not None and h.mapper.clock.latest.beat >= 3.0,
                timeout=5.0,
                what="three beats of clock",
            )
            clock = h.mapper.clock.latest
            assert clock.running
            assert clock.bpm == pytest.approx(120.0, abs=3.0)
            assert any("bpm" in line for line in h.mapper.hud_lines())
            dev.send(0xFC)  # Stop: the position holds
            h.until(lambda: not h.mapper.clock.latest.running, what="stopped")
            held = h.mapper.clock.latest.beat
            h.settle(0.2)
            assert h.mapper.clock.beat_at(time.monotonic()) == pytest.approx(held, abs=1 / 24)
            dev.send(0xF2, 32, 0)  # Song Position Pointer: 32 sixteenths = beat 8
            h.until(lambda: h.mapper.clock.latest.beat == 8.0, what="song position")
            dev.send(0xFB)  # Continue from there
            h.until(
                lambda: h.mapper.clock.latest.running and h.mapper.clock.latest.beat > 8.0,
                what="continued",
            )
        finally:
            stop.set()
            sender.join()


def test_a_device_that_vanishes_and_returns_resumes_within_two_seconds(device, tmp_path):
    dev = device("plug")
    name = dev.name
    data = midi_show(
        name, [{"cc": 7, "target": "output.brightness", "takeover": "none"}], poll_s=1.0
    )
    with Harness(data, tmp_path) as h:
        h.connected(dev)
        dev.cc(7, 10)
        h.until(
            lambda: h.targets["output.brightness"] == pytest.approx(10 / 127), what="first value"
        )
        dev.close()  # the cable is pulled
        h.until(lambda: not h.service.status().devices, timeout=3.0, what="the device to be closed")
        assert any("unplugged" in line for line in h.mapper.hud_lines())
        back = FakeDevice(name=name)  # the same device plugged in again
        try:
            start = time.monotonic()
            while h.targets["output.brightness"] != pytest.approx(100 / 127):
                assert time.monotonic() - start < 2.0, (
                    "no control within 2 s of the device returning"
                )
                back.cc(7, 100)
                h.settle(0.05)
            assert any("connected" in line for line in h.mapper.hud_lines())
        finally:
            back.close()
    events = (tmp_path / "stats.jsonl").read_text()
    assert '"state":"unplugged"' in events and events.count('"state":"connected"') == 2


def test_learn_maps_a_moved_control_and_saves_a_profile(device, tmp_path):
    dev = device("learn")
    data = midi_show(dev.name, [], learn_file="controllers/learned.midi.yaml")
    with Harness(data, tmp_path) as h:
        h.connected(dev)
        h.hooks.events.put(ControlEvent("learn"))  # the L key, or OSC /learn
        h.step()
        assert h.mapper.learning == "walk.speed"
        assert any("MIDI learn -> walk.speed" in line for line in h.mapper.hud_lines())
        h.settle(0.1)
        for v in (60, 65, 70, 72):  # a fader moving
            dev.cc(21, v, channel=3)
        h.until(lambda: h.mapper.learning is None, what="learn to finish")
        assert h.targets["walk.speed"] == 0.25  # learning moved nothing
        path = tmp_path / "controllers" / "learned.midi.yaml"
        profile = load_profile(path).profile
        assert [m.model_dump(exclude_defaults=True) for m in profile.mappings] == [
            {"cc": 21, "channel": 3, "device": f"{dev.name}:ctl", "target": "walk.speed"}
        ]
        assert "MIDI learn writes this file" in path.read_text()
        # The mapping is live at once: pick up near 0.25 (CC 72 ~ 0.27), then follow.
        dev.cc(21, 72, channel=3)
        dev.cc(21, 100, channel=3)
        h.until(
            lambda: h.targets["walk.speed"] == pytest.approx(-2 + 4 * 100 / 127),
            what="learned fader",
        )
    # ... and a show started later loads it.
    show = parse_show(data, base_dir=tmp_path)
    assert show.midi.learn_file == "controllers/learned.midi.yaml"


def test_sysex_flood_is_ignored_and_memory_stays_flat(device, tmp_path):
    dev = device("flood")
    mappings = [{"cc": 7, "target": "output.brightness", "takeover": "none"}]
    for sysex in (False, True):  # ignored in the driver (default), or counted and dropped
        with Harness(midi_show(dev.name, mappings, sysex=sysex), tmp_path) as h:
            h.connected(dev)
            paced(lambda i: dev.send(*SYSEX), 200)  # warm-up: allocator pools settle
            h.settle(0.3)
            before = rss_bytes()
            paced(lambda i: dev.send(*SYSEX), 8000)  # 2 MB of SysEx
            h.until_sent(
                lambda: dev.cc(7, 33),
                lambda: h.targets["output.brightness"] == pytest.approx(33 / 127),
                what="a CC after the flood",
            )
            grown = rss_bytes() - before
            assert grown < 2_000_000, f"memory grew by {grown} bytes during a SysEx flood"
            assert not any(e.target.startswith("sysex") for e in h.seen)
            if sysex:
                h.until(lambda: h.service.status().sysex > 1000, what="SysEx counted")
            else:
                assert h.service.status().sysex == 0  # never reached Python


def test_a_flood_with_a_stalled_loop_is_bounded(device, tmp_path):
    dev = device("ccflood")
    mappings = [{"cc": 7, "target": "output.brightness", "takeover": "none"}]
    with Harness(midi_show(dev.name, mappings), tmp_path, queue_size=100) as h:
        h.connected(dev)
        paced(lambda i: dev.cc(7, i % 128), 5000, burst=64)  # nobody drains meanwhile
        # With nobody draining, the flood fills the bounded queue and the rest is dropped.
        assert wait_for(lambda: h.hooks.events.dropped > 0)
        assert len(h.hooks.events.drain()) <= 100
        # Control comes back once the loop drains again.
        h.until_sent(
            lambda: dev.cc(7, 5),
            lambda: h.targets["output.brightness"] == pytest.approx(5 / 127),
            what="control after the flood",
        )


def test_profile_is_matched_by_port_name(device, tmp_path):
    dev = device("nanoKONTROL2")  # a port named like the real controller
    data = {
        "midi": {
            "api": "jack",
            "poll_s": 0.2,
            "profiles_dir": str(REPO / "controllers"),
            "devices": [{"port": dev.name}],
        }
    }
    with Harness(data, tmp_path) as h:
        h.connected(dev)
        assert dict(h.service.status().devices)[f"{dev.name}:ctl"] == "korg-nanokontrol2"
        dev.cc(7, 127)  # fader 8 -> output.brightness, picked up at 1.0
        dev.cc(7, 60)
        h.until(lambda: h.targets["output.brightness"] == pytest.approx(60 / 127), what="fader 8")
        dev.cc(32, 127)  # S1 toggles pause
        h.until(lambda: h.targets["walk.paused"] == 1.0, what="S1")


def test_devices_command_lists_ports_and_profiles(device, capsys):
    dev = device("nanoKONTROL2")
    assert main(["devices", str(REPO / "show.yaml")]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if dev.name in line)
    assert "in:" in line and "korg-nanokontrol2" in line
    assert Path(REPO / "controllers" / "korg-nanokontrol2.midi.yaml").name in line
