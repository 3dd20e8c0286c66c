"""The protocol-independent mapping math (shared with MIDI)."""

from __future__ import annotations

import math

import pytest

from installation.control.mapping import CURVES, curve, map_value, smooth, uncurve, unmap_value


@pytest.mark.parametrize("kind", CURVES)
def test_curves_keep_their_ends_and_invert_exactly(kind: str) -> None:
    assert curve(0.0, kind) == pytest.approx(0.0)
    assert curve(1.0, kind) == pytest.approx(1.0)
    for x in (0.1, 0.33, 0.5, 0.9):
        assert uncurve(curve(x, kind), kind) == pytest.approx(x)


def test_exponential_is_fine_at_the_bottom_and_logarithmic_at_the_top() -> None:
    assert curve(0.5, "exponential") < 0.5 < curve(0.5, "logarithmic")
    assert curve(0.5, "linear") == 0.5


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
