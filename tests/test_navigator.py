"""Navigator: deterministic for a seed, continuous, finite, safe slerp."""

from __future__ import annotations

import math

import numpy as np
import pytest

from installation.navigator import Navigator, advance, slerp


@pytest.mark.parametrize("mode", ["keyframes", "ou"])
def test_deterministic_for_a_seed(mode: str) -> None:
    a = Navigator(32, seed=5, mode=mode)
    b = Navigator(32, seed=5, mode=mode)
    c = Navigator(32, seed=6, mode=mode)
    phases = [0.0, 0.3, 1.7, 12.25, -3.5]
    for p in phases:
        np.testing.assert_array_equal(a.position(p), b.position(p))
    assert not np.allclose(a.position(1.7), c.position(1.7))


@pytest.mark.parametrize("mode", ["keyframes", "ou"])
def test_walk_is_continuous_and_finite(mode: str) -> None:
    nav = Navigator(64, seed=1, mode=mode)
    phase, dt, speed = 0.0, 1 / 60, 0.5
    previous = nav.position(phase)
    steps = []
    for _ in range(600):  # ten seconds at 60 fps
        phase = advance(phase, speed, 0.0, dt)
        z = nav.position(phase)
        assert np.isfinite(z).all()
        steps.append(float(np.linalg.norm(z - previous)))
        previous = z
    radius = math.sqrt(64)
    # The largest step between frames is a small fraction of the sphere's radius: no jumps.
    assert max(steps) < 0.05 * radius
    assert sum(steps) > radius  # and it really moves


def test_going_backwards_revisits_the_same_path() -> None:
    nav = Navigator(16, seed=2, mode="ou")
    forward = nav.position(700.3)
    nav.position(5.0)  # jump elsewhere; the cache must not change the answer
    again = Navigator(16, seed=2, mode="ou").position(700.3)
    np.testing.assert_allclose(forward, again)


def test_truncation_scales_radius() -> None:
    nav = Navigator(128, seed=0)
    z = nav.position(0.0, truncation=0.5)
    assert math.isclose(float(np.linalg.norm(z)), 0.5 * math.sqrt(128), rel_tol=1e-5)


def test_slerp_is_safe_when_endpoints_coincide_or_oppose() -> None:
    a = np.ones(8)
    for b in (a.copy(), -a, np.zeros(8)):
        for t in (0.0, 0.5, 1.0):
            assert np.isfinite(slerp(a, b, t)).all()
    np.testing.assert_allclose(slerp(a, a, 0.3), a)


def test_non_finite_phase_does_not_poison_the_walk() -> None:
    assert np.isfinite(Navigator(8).position(float("nan"))).all()


def test_pause_eases_the_walk_to_a_halt() -> None:
    assert advance(1.0, 0.5, 1.0, 0.1) == 1.0
    assert advance(1.0, 0.5, 0.5, 0.1) == pytest.approx(1.025)
