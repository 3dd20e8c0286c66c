"""Envelope followers: fast attack, slow release, gain and threshold."""

from __future__ import annotations

import pytest

from installation.instruments.envelope import follow


def test_attack_rises_fast_and_release_falls_slowly() -> None:
    level, dt = 0.0, 1 / 60
    for _ in range(6):  # 0.1 s of a loud input
        level = follow(level, 1.0, dt, attack=0.02, release=0.5)
    assert level > 0.95
    for _ in range(6):  # 0.1 s of silence
        level = follow(level, 0.0, dt, attack=0.02, release=0.5)
    assert 0.7 < level < 0.9


def test_threshold_gain_and_bad_input() -> None:
    assert follow(0.0, 0.1, 1.0, attack=0.0, release=0.0, threshold=0.2) == 0.0
    assert follow(0.0, 0.4, 1.0, attack=0.0, release=0.0, gain=2.0, threshold=0.2) == pytest.approx(
        0.4
    )
    assert follow(0.0, 0.9, 1.0, attack=0.0, release=0.0, gain=10.0) == 1.0  # clamped
    assert follow(0.5, float("nan"), 1.0, attack=0.0, release=0.0) == 0.0
