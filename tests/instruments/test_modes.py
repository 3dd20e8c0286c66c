"""Navigation modes are pure functions: loops close, drift is smooth, jitter is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from installation.instruments.modes import (
    drift_offset,
    jitter_offset,
    loop_latent,
    seeded_latent,
    truncate,
)


@pytest.fixture
def keyframes() -> list[np.ndarray]:
    return [seeded_latent(s, 32) for s in (1, 2, 3, 4)]


@pytest.mark.parametrize("spline", [False, True])
def test_loop_closes_first_and_last_frames_meet(keyframes: list[np.ndarray], spline: bool) -> None:
    frames = 240
    path = [loop_latent(keyframes, i / frames, spline=spline) for i in range(frames + 1)]
    np.testing.assert_allclose(path[0], path[-1], atol=1e-5)
    np.testing.assert_allclose(path[0], keyframes[0], atol=1e-5)
    steps = [float(np.linalg.norm(b - a)) for a, b in zip(path, path[1:], strict=False)]
    # The closing step (last frame -> first of the next turn) is as small as any other.
    closing = float(
        np.linalg.norm(loop_latent(keyframes, 1.0 + 1 / frames, spline=spline) - path[-1])
    )
    assert closing <= max(steps) * 1.01
    assert max(steps) < 5 * np.median(steps)  # no jump anywhere on the way


def test_loop_passes_through_every_keyframe(keyframes: list[np.ndarray]) -> None:
    for i, k in enumerate(keyframes):
        np.testing.assert_allclose(loop_latent(keyframes, i / len(keyframes)), k, atol=1e-5)


def test_one_keyframe_is_a_still_and_none_is_an_error() -> None:
    k = seeded_latent(9, 8)
    np.testing.assert_array_equal(loop_latent([k], 0.37), k)
    with pytest.raises(ValueError):
        loop_latent([], 0.0)


def test_seeded_keyframes_are_repeatable_and_on_the_sphere() -> None:
    np.testing.assert_array_equal(seeded_latent(5, 64), seeded_latent(5, 64))
    assert not np.allclose(seeded_latent(5, 64), seeded_latent(6, 64))
    assert np.linalg.norm(seeded_latent(5, 64)) == pytest.approx(8.0, rel=1e-5)


def test_drift_is_smooth_scaled_by_temperature_and_zero_when_cold() -> None:
    a = drift_offset(3, 64, 0.50, 1.0)
    b = drift_offset(3, 64, 0.51, 1.0)
    assert np.linalg.norm(b - a) < 0.2 * np.linalg.norm(a)
    np.testing.assert_allclose(drift_offset(3, 64, 0.5, 2.0), 2 * a, rtol=1e-5)
    assert not drift_offset(3, 64, 0.5, 0.0).any()
    # About unit variance per dimension over time.
    samples = np.stack([drift_offset(3, 64, p, 1.0) for p in np.linspace(0, 50, 500)])
    assert 0.5 < samples.std() < 1.5


def test_jitter_holds_for_a_slot_then_draws_again() -> None:
    a = jitter_offset(1, 16, 0.01, 0.5, rate=10)
    np.testing.assert_array_equal(a, jitter_offset(1, 16, 0.09, 0.5, rate=10))
    assert not np.allclose(a, jitter_offset(1, 16, 0.11, 0.5, rate=10))
    assert not jitter_offset(1, 16, 0.1, 0.0, rate=10).any()


def test_truncation_pulls_toward_the_mean() -> None:
    z, mean = np.ones(4, np.float32) * 3, np.ones(4, np.float32)
    np.testing.assert_allclose(truncate(z, 0.5, mean), 2.0)
    np.testing.assert_allclose(truncate(z, 0.0, mean), mean)
    np.testing.assert_allclose(truncate(z, 0.5), 1.5)
