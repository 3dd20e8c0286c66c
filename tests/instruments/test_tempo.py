"""Tempo from OSC, beats and taps; morph ends quantised to the grid."""

from __future__ import annotations

import pytest

from installation.instruments.tempo import Tempo, TempoState, quantized_end


def test_one_tap_is_ignored_and_taps_set_the_tempo() -> None:
    tempo = Tempo()
    assert not tempo.tap(10.0)
    assert not tempo.state.known
    assert tempo.tap(10.5) and tempo.tap(11.0) and tempo.tap(11.5)
    assert tempo.state.bpm == pytest.approx(120.0)
    assert tempo.state.beat_at(11.5) == pytest.approx(round(tempo.state.beat_at(11.5)))
    # A lone tap after a long pause starts a new series and changes nothing.
    assert not tempo.tap(30.0)
    assert tempo.state.bpm == pytest.approx(120.0)


def test_a_new_tempo_keeps_the_beat_continuous() -> None:
    tempo = Tempo()
    tempo.set_bpm(120, now=0.0)
    before = tempo.state.beat_at(3.0)
    tempo.set_bpm(90, now=3.0)
    assert tempo.state.beat_at(3.0) == pytest.approx(before)
    assert tempo.state.beat_at(5.0) == pytest.approx(before + 3.0)
    assert not tempo.set_bpm(float("nan"), now=6.0)


def test_beat_snaps_to_the_nearest_or_a_given_number() -> None:
    tempo = Tempo()
    tempo.set_bpm(60, now=0.0)
    tempo.beat(2.2)  # beat_at 2.2 -> 2
    assert tempo.state.beat_at(2.2) == pytest.approx(2.0)
    tempo.beat(4.0, number=16)
    assert tempo.state.beat_at(5.0) == pytest.approx(17.0)


def test_quantized_end_lands_on_the_bar() -> None:
    state = TempoState(bpm=120.0, beat=0.0, at=0.0)  # a beat every 0.5 s, a bar every 2 s
    assert quantized_end(state, 0.3, 1.0, 4.0) == pytest.approx(2.0)
    assert quantized_end(state, 0.3, 1.0, 1.0) == pytest.approx(1.5)
    assert quantized_end(TempoState(), 0.3, 1.0, 4.0) == pytest.approx(1.3)  # no tempo: seconds
