"""The protocol-independent mapping math: one normalisation and one smoothing for OSC and MIDI."""

from __future__ import annotations

import math

import pytest

from installation.control.mapping import CURVES, curve, map_value, smooth, uncurve, unmap_value
from installation.control.midi.bindings import compile_mapping
from installation.control.midi.config import MidiMapping
from installation.control.osc.config import OscMapping
from installation.params import REGISTRY


@pytest.mark.parametrize("kind", CURVES)
def test_curves_keep_their_ends_rise_and_invert_exactly(kind: str) -> None:
    assert curve(0.0, kind) == pytest.approx(0.0)
    assert curve(1.0, kind) == pytest.approx(1.0)
    xs = [i / 50 for i in range(51)]
    ys = [curve(x, kind) for x in xs]
    assert all(b > a for a, b in zip(ys, ys[1:], strict=False))
    assert [uncurve(y, kind) for y in ys] == pytest.approx(xs)


def test_exponential_is_fine_at_the_bottom_and_logarithmic_at_the_top() -> None:
    assert curve(0.5, "exponential") < 0.25  # an audio taper: fine control at the low end
    assert curve(0.5, "exponential") < 0.5 < curve(0.5, "logarithmic")
    assert curve(0.5, "linear") == 0.5


@pytest.mark.parametrize("kind", CURVES)
def test_a_midi_knob_and_an_osc_fader_with_the_same_settings_agree(kind: str) -> None:
    param = REGISTRY.params["latent.truncation"]
    knob = compile_mapping(
        MidiMapping(cc=1, target=param.name, range=[0.5, 1.5], curve=kind, invert=True), REGISTRY
    )
    fader = OscMapping(
        address="/1/fader1", target=param.name, output=(0.5, 1.5), curve=kind, invert=True
    )
    for x in (0.0, 0.1, 0.5, 0.8, 1.0):
        osc = map_value(x, fader.input, fader.output, fader.curve, fader.invert)
        assert param.from_normalized(knob.value_at(x)) == pytest.approx(osc)
        assert knob.position_of(param.to_normalized(osc)) == pytest.approx(x, abs=1e-9)


def test_map_value_ranges_invert_and_clamp() -> None:
    assert map_value(64, (0, 127), (-2, 2)) == pytest.approx(-2 + 4 * 64 / 127)
    assert map_value(0.25, (0, 1), (0, 10), invert=True) == pytest.approx(7.5)
    assert map_value(5.0, (0, 1), (0, 10)) == 10.0  # out of range input is clamped
    assert map_value(-1.0, (1, 0), (0, 10)) == 10.0  # a reversed input range works
    assert map_value(math.nan, (0, 1), (3, 4)) == 3.0


@pytest.mark.parametrize("kind", CURVES)
@pytest.mark.parametrize("invert", [False, True])
def test_unmap_is_the_inverse_of_map(kind: str, invert: bool) -> None:
    for v in (0.0, 0.2, 0.77, 1.0):
        out = map_value(v, (0, 1), (-2, 2), kind, invert)
        assert unmap_value(out, (0, 1), (-2, 2), kind, invert) == pytest.approx(v, abs=1e-9)


def test_smooth_is_frame_rate_independent_and_arrives() -> None:
    one = smooth(0.0, 1.0, 0.1, 0.5)
    two = smooth(smooth(0.0, 1.0, 0.05, 0.5), 1.0, 0.05, 0.5)
    assert one == pytest.approx(two)
    assert smooth(0.0, 1.0, 0.1, 0.0) == 1.0
    value = 0.0
    for _ in range(2000):
        value = smooth(value, 1.0, 1 / 60, 0.5)
    assert value == 1.0


def test_an_osc_glide_gives_way_to_a_midi_fader_on_the_same_target():
    # One glide engine for both protocols: whoever writes a target last owns it.
    from installation.control.midi.bindings import build_table, compile_mapping
    from installation.control.midi.config import MidiMapping
    from installation.control.midi.decode import MidiDecoder
    from installation.control.midi.mapper import MidiMapper
    from installation.control.osc.schedule import Scheduler
    from installation.events import ControlEvent, MidiMessage
    from installation.params import REGISTRY, apply_events

    table = build_table(
        [
            [
                compile_mapping(
                    MidiMapping(cc=7, target="output.brightness", takeover="none"), REGISTRY
                )
            ]
        ]
    )
    decoder = MidiDecoder("fader", table)
    mappers = [
        Scheduler(REGISTRY),
        MidiMapper(REGISTRY, arm=lambda target: None, decoders=lambda: {decoder.source: decoder}),
    ]
    targets = REGISTRY.initial_values()  # brightness 1.0

    def frame(events, now):
        nonlocal targets
        for mapper in mappers:
            events = mapper(events, targets, now)
        targets, _ = apply_events(REGISTRY, targets, events)
        return targets["output.brightness"]

    osc = ControlEvent("output.brightness", 0.0, source="osc:a", smoothing=1.0)
    gliding = [frame([osc], 0.0), frame([], 0.1), frame([], 0.2)]
    assert 1.0 > gliding[1] > gliding[2] > 0.5  # the OSC glide is under way
    cc = MidiMessage(decoder.source, "control_change", 0, 7, 127, 0.25)
    assert frame([cc], 0.3) == 1.0  # the fader wins this frame ...
    assert [frame([], 0.3 + 0.1 * i) for i in range(1, 4)] == [1.0] * 3  # ... and after it
