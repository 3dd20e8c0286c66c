"""MIDI decoding, mapping math, takeover and clock as pure functions (no MIDI system needed).

These feed bytes and timestamps straight into a reader (the same path a port's callback
takes) and its messages into the decoder (the loop's mapper step does that); the JACK tests
cover the ports themselves.
"""

from __future__ import annotations

import random

import pytest

from installation.control.midi.bindings import (
    build_table,
    compile_mapping,
    decode_relative,
    feedback_messages,
)
from installation.control.midi.clock import BeatSync, ClockTracker
from installation.control.midi.config import MidiMapping
from installation.control.midi.decode import MidiDecoder, MidiReader
from installation.control.midi.mapper import MidiMapper
from installation.control.takeover import Takeover
from installation.events import ClockTick, ControlEvent, DeviceNotice, MidiMessage
from installation.params import REGISTRY


def decoder(*mappings: dict, scenes=None) -> tuple[MidiReader, list]:
    """A reader whose messages go through a decoder at once; `out` gets the events."""
    out: list = []
    table = build_table(
        [[compile_mapping(MidiMapping(**m), REGISTRY, takeover="none") for m in mappings]]
    )
    dec = MidiDecoder("dev", table, scenes=scenes)

    def sink(event) -> None:
        out.extend(dec.decode(event) if isinstance(event, MidiMessage) else [event])

    return MidiReader("dev", sink, counters=dec.counters), out


def test_the_input_thread_only_decodes_messages_and_maps_nothing():
    queued: list = []
    reader = MidiReader("dev", queued.append)
    reader.feed([0xB3, 7, 10, 0x93, 60, 0, 0xE3, 0x7F, 0x7F, 0xC3, 5], 1.5)
    assert queued == [
        MidiMessage("midi:dev", "control_change", 3, 7, 10, 1.5),
        MidiMessage("midi:dev", "note_on", 3, 60, 0, 1.5),
        MidiMessage("midi:dev", "pitchwheel", 3, 0, 16383, 1.5),
        MidiMessage("midi:dev", "program_change", 3, 5, 0, 1.5),
    ]
    assert reader.counters.messages == 4 and reader.counters.unmapped == 0


def test_a_table_replaced_after_learn_maps_the_next_message():
    dec = MidiDecoder("dev", build_table([]))
    cc = MidiMessage("midi:dev", "control_change", 0, 7, 127, 0.0)
    assert dec.decode(cc) == [] and dec.counters.unmapped == 1
    dec.table = build_table(
        [[compile_mapping(MidiMapping(cc=7, target="output.brightness"), REGISTRY)]]
    )
    [event] = dec.decode(cc)
    assert (event.target, event.value, event.control) == ("output.brightness", 1.0, "cc:*:7")


@pytest.mark.parametrize(
    ("encoder", "value", "ticks"),
    [
        ("twos_complement", 1, 1),
        ("twos_complement", 5, 5),
        ("twos_complement", 127, -1),
        ("twos_complement", 120, -8),
        ("binary_offset", 65, 1),
        ("binary_offset", 64, 0),
        ("binary_offset", 60, -4),
        ("signed_bit", 1, 1),
        ("signed_bit", 65, -1),
        ("signed_bit", 70, -6),
    ],
)
def test_relative_encodings(encoder, value, ticks):
    assert decode_relative(value, encoder) == ticks


def test_running_status_realtime_and_garbage_in_one_stream():
    dec, out = decoder(
        {"cc": 7, "target": "output.brightness"}, {"note": 60, "target": "screenshot"}
    )
    # CC 7=10, running status CC 7=20, a clock tick in the middle of a message, a SysEx,
    # then data bytes whose running status the SysEx cancelled, a truncated message.
    dec.feed([0xB0, 7, 10, 7, 0xF8, 20, 0xF0, 1, 2, 0xF7, 7, 30, 0x90, 60], 1.0)
    dec.feed([0x90, 60, 100], 2.0)
    values = [round(e.value * 127) for e in out if e.target == "output.brightness"]
    assert values == [10, 20]
    assert [e.target for e in out if e.target == "screenshot"] == ["screenshot"]
    assert dec.counters.invalid >= 2  # the orphaned data bytes and the truncated note
    assert dec.counters.clock == 1 and dec.counters.sysex == 1


def test_14bit_msb_resets_lsb_and_odd_channels():
    dec, out = decoder({"cc14": 3, "channel": 16, "target": "output.brightness"})
    dec.feed([0xBF, 3, 64], 0.0)  # MSB alone: LSB counts as 0 (MIDI 1.0)
    dec.feed([0xBF, 35, 127], 0.0)
    dec.feed([0xBF, 3, 10], 0.0)  # a new MSB resets the LSB
    dec.feed([0xB0, 3, 99], 0.0)  # channel 1: not this mapping
    assert [e.value for e in out] == pytest.approx(
        [64 * 128 / 16383, (64 * 128 + 127) / 16383, 10 * 128 / 16383]
    )
    assert dec.counters.unmapped == 1


def test_rpn_data_entry_is_not_taken_for_an_nrpn():
    dec, out = decoder({"nrpn": 5, "target": "output.brightness"})
    dec.feed([0xB0, 101, 0, 100, 0, 6, 2], 0.0)  # RPN 0 (pitch bend range) = 2
    assert out == []
    dec.feed([0xB0, 99, 0, 98, 5, 6, 127, 38, 127], 0.0)
    assert out[-1].value == pytest.approx(1.0)


def test_program_change_recalls_scenes_in_order_without_program_mappings():
    dec, out = decoder(scenes={"a": {"walk.speed": 0.1}, "b": {"walk.speed": 1.5}})
    dec.feed([0xC0, 1], 0.0)
    assert [(e.target, e.value) for e in out if isinstance(e, ControlEvent)] == [
        ("walk.speed", 1.5)
    ]
    assert [e.kind for e in out if isinstance(e, DeviceNotice)] == ["scene"]  # for the HUD
    dec.feed([0xC0, 9], 0.0)  # no ninth scene
    assert dec.counters.unmapped == 1


def test_binding_range_invert_and_feedback_round_trip():
    b = compile_mapping(
        MidiMapping(
            cc=1, target="latent.truncation", range=[0.5, 1.5], invert=True, curve="exponential"
        ),
        REGISTRY,
    )
    for x in (0.0, 0.25, 0.5, 1.0):
        assert b.position_of(b.value_at(x)) == pytest.approx(x)
    assert REGISTRY.params["latent.truncation"].from_normalized(b.value_at(0.0)) == pytest.approx(
        1.5
    )
    assert feedback_messages(b, b.value_at(1.0)) == [(0xB0, 1, 127)]
    led = compile_mapping(
        MidiMapping(note=41, channel=9, target="walk.paused", led_on=60, led_off=12), REGISTRY
    )
    assert feedback_messages(led, 1.0) == [(0x98, 41, 60)] and feedback_messages(led, 0.0) == [
        (0x98, 41, 12)
    ]
    wide = compile_mapping(MidiMapping(cc14=2, target="output.brightness"), REGISTRY)
    assert feedback_messages(wide, 1.0) == [(0xB0, 2, 127), (0xB0, 34, 127)]


def test_pickup_waits_for_the_value_and_lets_go_when_another_writer_moves_it():
    t = Takeover()
    key = ("midi:a", "cc:0:0", "output.brightness")
    assert t.apply(key, "pickup", 0.1, 0.6) is None
    assert t.apply(key, "pickup", 0.3, 0.6) is None
    assert t.apply(key, "pickup", 0.7, 0.6) == 0.7  # crossed 0.6 between two messages
    assert t.apply(key, "pickup", 0.72, 0.7) == 0.72
    assert t.apply(key, "pickup", 0.74, 0.2) is None  # someone set 0.2 meanwhile
    assert t.apply(key, "pickup", 0.21, 0.2) == 0.21  # within tolerance: picked up again


def test_scale_converges_toward_the_end_it_moves_to():
    t = Takeover()
    key = ("midi:a", "cc:0:0", "output.brightness")
    assert t.apply(key, "scale", 0.0, 0.5) is None  # first message: nothing to scale from
    assert t.apply(key, "scale", 0.5, 0.5) == 0.5  # met on the way: follows from here
    t2 = Takeover()
    t2.apply(key, "scale", 0.8, 0.2)
    down = t2.apply(key, "scale", 0.4, 0.2)  # half way down: the value halves too
    assert down == pytest.approx(0.1)
    assert t2.apply(key, "scale", 0.0, down) == 0.0


def test_mapper_glides_with_per_mapping_smoothing():
    mapper = MidiMapper(REGISTRY, arm=lambda target: None)
    targets = REGISTRY.initial_values()  # brightness 1.0
    e = ControlEvent(
        "output.brightness",
        0.0,
        normalized=True,
        source="midi:a",
        control="cc:0:7",
        takeover="none",
        smoothing=0.5,
    )
    seen = []
    now = 0.0
    events = [e]
    for _ in range(500):  # five seconds at 100 fps
        out = mapper(events, targets, now)
        events = []
        for ev in out:
            targets[ev.target] = ev.value
        seen.append(targets["output.brightness"])
        now += 0.01
    assert all(b <= a for a, b in zip(seen, seen[1:], strict=False))  # a glide, never a jump
    assert seen[0] > 0.9 and seen[50] == pytest.approx(1.0 * 2.718281828**-1, abs=0.05)
    assert seen[-1] == 0.0


def test_clock_tempo_is_robust_to_jitter_and_stalls():
    rng = random.Random(7)
    clock = ClockTracker("midi:x")
    period = 60 / 128 / 24
    for i in range(24 * 4):
        stall = 0.12 if 50 <= i < 56 else 0.0  # a late burst of ticks
        clock.handle("clock", i * period + rng.uniform(0, 0.005) + stall)
    assert clock.bpm == pytest.approx(128, abs=1.0)


def test_clock_transport_positions():
    clock = ClockTracker("midi:x")
    period = 60 / 120 / 24
    assert clock.handle("start", 0.0).beat == 0.0
    events = [clock.handle("clock", i * period) for i in range(48)]
    reports = [e for e in events if e is not None]
    assert reports and reports[-1].beat == pytest.approx(42 / 24)  # every sixteenth note
    assert clock.handle("stop", 1.0).running is False
    clock.handle("clock", 1.01)
    assert clock.next_tick == 48  # stopped: the position holds
    assert clock.handle("songpos", 1.1, 64).beat == 16.0
    assert clock.handle("continue", 1.2).running is True


def test_beat_sync_locks_keyframes_to_beats_without_jumping():
    sync = BeatSync()
    values = {"walk.sync": 1.0, "walk.beats": 4.0, "walk.paused": 0.0}
    assert sync.phase(0.3, values, 0.016, 0.0) is None  # no clock yet: the free walk
    phase, t, dt = 0.3, 0.0, 1 / 60
    steps = []
    for _ in range(60 * 6):  # six seconds at 60 fps, clock at 120 bpm from beat 0 at t=0
        sync.update(ClockTick("midi:x", running=True, bpm=120.0, beat=2.0 * t, at=t))
        new = sync.phase(phase, values, dt, t)
        steps.append(new - phase)
        phase, t = new, t + dt
    assert max(abs(s) for s in steps) < 0.05  # never a jump
    off = (phase - 2.0 * t / 4.0) % 1.0
    assert min(off, 1.0 - off) < 0.02  # a keyframe on every bar
    assert steps[-1] == pytest.approx(120 / 60 / 4 * dt, rel=0.05)  # half a keyframe a second
    sync.update(ClockTick("midi:x", running=False, bpm=120.0, beat=12.0, at=t))
    assert sync.phase(phase, values, dt, t) == phase  # Stop holds the picture
    assert sync.phase(phase, {**values, "walk.sync": 0.0}, dt, t) is None
    assert sync.phase(phase, values, dt, t + 5.0) is None  # clock gone: the free walk again
