"""The instruments in the real render loop: loops close, morphs are continuous and land on
the bar, a recorded session replays to the same trace."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.instruments.support import Stepped, ev, show_dict

SEEDS = [ev("keyframe.seed", s) for s in (11, 12, 13)]


def test_a_loop_in_seconds_closes_in_the_real_loop(tmp_path: Path) -> None:
    show = Stepped(tmp_path)
    try:
        show.run(40, {0: [*SEEDS, ev("loop.period", 1.0), ev("loop.on", 1.0)]})
        z = show.latents
        # A 1 s loop at 20 fps: frame k and frame k + 20 are the same point.
        for k in range(2, 20):
            np.testing.assert_allclose(z[k], z[k + 20], atol=1e-4)
        steps = [np.linalg.norm(b - a) for a, b in zip(z[2:], z[3:], strict=False)]
        assert max(steps) < 4 * float(np.median(steps))  # the seam is no jump
    finally:
        show.close()


def test_a_loop_in_beats_follows_the_tempo(tmp_path: Path) -> None:
    show = Stepped(tmp_path)
    try:
        # 120 bpm, a turn every 4 beats = 2 s = 40 frames.
        show.run(
            120,
            {
                0: [
                    *SEEDS,
                    ev("tempo", 120),
                    ev("loop.sync", 1),
                    ev("loop.beats", 4),
                    ev("loop.on", 1),
                ]
            },
        )
        np.testing.assert_allclose(show.latents[70], show.latents[110], atol=1e-3)
        assert not np.allclose(show.latents[70], show.latents[90], atol=1e-2)
    finally:
        show.close()


def test_a_scene_morph_is_continuous_and_lands_on_the_bar(tmp_path: Path) -> None:
    show = Stepped(tmp_path, show_dict(tmp_path, quantize="bar", beats_per_bar=4))
    try:
        show.run(10, {0: [ev("tempo", 120), ev("morph.time", 1.0), ev("walk.speed", 0.2)]})
        show.run(1, {10: [ev("scene.store", math.nan, "calm")]})
        show.run(30, {11: [ev("walk.speed", 1.5), ev("latent.truncation", 1.3)]})
        start = len(show.latents)
        show.run(60, {41: [ev("cue.jump", 1)]})
        # The recall came at 2.05 s; a 1 s morph ends on the next bar at 120 bpm: 4.0 s.
        assert show.morphing[41]
        done = next(i for i in range(41, len(show.latents)) if not show.morphing[i])
        assert show.times[done] == pytest.approx(4.0)
        z = show.latents
        walk = [np.linalg.norm(b - a) for a, b in zip(z[1:10], z[2:11], strict=False)]
        morph = [np.linalg.norm(z[i + 1] - z[i]) for i in range(start - 1, done + 5)]
        # Continuous: no frame of the morph moves further than a fast walk's frame does.
        fast = [np.linalg.norm(z[i + 1] - z[i]) for i in range(20, 40)]
        assert max(morph) < 3 * max(max(fast), max(walk))
        # The parameters glide with it: halfway there halfway through, the scene's at the end.
        assert show.targets[done]["walk.speed"] == pytest.approx(0.2)
        assert show.targets[done]["latent.truncation"] == pytest.approx(
            show.values[10]["latent.truncation"]
        )
        middle = (41 + done) // 2
        assert 0.2 < show.targets[middle]["walk.speed"] < 1.5
        assert show.runtime.instrument.desk.cue == 0
    finally:
        show.close()


def test_a_recorded_session_replays_to_the_same_trace(tmp_path: Path) -> None:
    log = tmp_path / "session.jsonl"
    data = show_dict(
        tmp_path, envelopes=[{"input": "signal.1", "target": "jitter.amount", "release": 0.2}]
    )
    schedule = {
        0: [*SEEDS, ev("tempo", 100)],
        5: [ev("walk.speed", 1.2), ev("signal.1", 0.8)],
        9: [ev("signal.1", 0.0), ev("tempo.tap", source="keyboard")],
        14: [ev("tempo.tap", source="keyboard"), ev("scene.store", math.nan, "one")],
        20: [ev("loop.on", 1), ev("drift.temperature", 0.5)],
        30: [ev("cue.jump", 1), ev("walk.speed", 0.3, source="midi:nano")],
        45: [ev("keyframe.store")],
    }
    first = Stepped(tmp_path, data, record=log)
    try:
        first.run(60, schedule)
    finally:
        first.close()
    (tmp_path / "scenes.yaml").unlink()  # the replay uses the scenes the log began with
    second = Stepped(tmp_path, data, replay=log)
    try:
        second.run(60)
    finally:
        second.close()
    assert second.values == first.values
    for a, b in zip(first.latents, second.latents, strict=True):
        np.testing.assert_array_equal(a, b)
    assert max(v["jitter.amount"] for v in first.values) > 0.5  # the envelope did push
    assert not (tmp_path / "scenes.yaml").exists()  # a replay never writes the scene file


def test_performance_morph_s_is_the_start_value_of_morph_time(tmp_path: Path) -> None:
    show = Stepped(tmp_path, show_dict(tmp_path, morph_s=1.5, quantize="none"))
    try:
        show.run(2, {0: [ev("scene.store", math.nan, "a")]})
        assert show.loop.targets["morph.time"] == 1.5
        show.run(2, {2: [ev("cue.jump", 1)]})
        assert show.instrument.morph is not None
        assert show.instrument.morph.end - show.instrument.morph.start == pytest.approx(1.5)
    finally:
        show.close()
