"""Attract mode and the schedule in a real render loop (fixed-step clock, dummy display);
the schedule's wall clock is injected, so show hours are tested at any time of day."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from installation.app import ShowRuntime
from installation.config.show import parse_show
from installation.events import ControlEvent
from installation.instruments.scenes import Scene, SceneBook
from installation.kiosk.config import ScheduleConfig
from installation.kiosk.schedule import EXIT_RESTART, Schedule, level

from ._kiosk_util import playing, tick

SCENES = {
    "calm": {"walk.speed": 0.1, "latent.truncation": 0.5},
    "wild": {"walk.speed": 1.2, "latent.truncation": 1.4},
}


def _runtime(show_dict: dict, kiosk: dict, base_dir: Path = Path(".")) -> ShowRuntime:
    data = {k: v for k, v in show_dict.items() if k != "base_dir"}
    scenes = SCENES if base_dir == Path(".") else {}
    return playing(parse_show({**data, "scenes": scenes, "kiosk": kiosk}, base_dir=base_dir))


def _steps(loop, inst, n: int, name: str) -> tuple[list[float], list[np.ndarray]]:
    """`n` frames: the target of `name` and the latent after each."""
    values, latents = [], []
    for _ in range(n):
        tick(loop)
        values.append(loop.targets[name])
        latents.append(inst.z_last.copy())
    return values, latents


def _largest_step(latents: list[np.ndarray]) -> float:
    return max(float(np.linalg.norm(b - a)) for a, b in zip(latents, latents[1:], strict=False))


def test_attract_glides_through_the_scenes_and_the_first_input_hands_back(show_dict) -> None:
    data = {**show_dict, "performance": {"morph_s": 1.0, "quantize": "none"}}
    rt = _runtime(data, {"attract": {"after_min": 0.05, "scene_s": 2.0}})  # 3 s
    try:
        loop, inst = rt.loop, rt.instrument
        tick(loop, 60)  # 2 s: not yet
        assert loop.targets["latent.truncation"] != 0.5 and inst.morph is None
        tick(loop, 33)  # past 3 s: the tour morphs to the first scene, as a recall does
        assert inst.morph is not None and inst.morph.label == "attract: calm"
        glide, _ = _steps(loop, inst, 31, "latent.truncation")
        assert glide[-1] == 0.5 and glide[0] > 0.5  # it arrives, it does not cut there
        assert all(a >= b for a, b in zip(glide, glide[1:], strict=False))
        assert max(a - b for a, b in zip(glide, glide[1:], strict=False)) < 0.1
        assert loop.targets["walk.speed"] == 0.2  # calm's 0.1, held to the tour's least speed
        tick(loop, 30)  # 2 s on: "wild"; half way through its morph someone plays
        assert inst.morph is not None and inst.morph.label == "attract: wild"
        tick(loop, 15)
        speed = loop.targets["walk.speed"]
        assert 0.2 < speed < 1.2
        loop.hooks.events.put(ControlEvent("latent.truncation", 1.3, source="osc"))
        _, latents = _steps(loop, inst, 30, "walk.speed")
        assert loop.targets["latent.truncation"] == 1.3
        assert loop.targets["walk.speed"] == speed  # where the glide had got to: no jump
        assert _largest_step(latents) < 0.5  # the picture finishes its glide
        tick(loop, 61)
        assert loop.targets["latent.truncation"] == 1.3  # the tour stays over until idle again
    finally:
        rt.close()


def test_attract_recalls_the_scene_files_scenes_through_the_instruments_morph(
    show_dict, tmp_path
) -> None:
    rng = np.random.default_rng(1)
    scenes = [
        Scene(
            name,
            "tiny",
            16,
            seed=seed,
            phase=phase,
            parameters={"latent.truncation": 0.8},
            keyframes=[],
        )
        for name, seed, phase in (("dawn", 5, 0.3), ("dusk", 9, 2.7))
    ]
    SceneBook(tmp_path / "scenes.yaml", scenes, [rng.standard_normal(16).astype(np.float32)]).save()
    data = {**show_dict, "performance": {"morph_s": 1.0, "quantize": "none"}}
    rt = _runtime(data, {"attract": {"after_min": 0.05, "scene_s": 2.0}}, base_dir=tmp_path)
    try:
        loop, inst = rt.loop, rt.instrument
        tick(loop, 88)
        before = inst.z_last.copy()
        _, latents = _steps(loop, inst, 4, "latent.truncation")  # the tour's first recall
        assert inst.desk.cue == 0 and inst.nav.seed == 5  # cue.jump 1: scene "dawn"
        assert inst.morph is not None and inst.morph.label == "scene 1 dawn"
        _, more = _steps(loop, inst, 30, "latent.truncation")
        cut = float(np.linalg.norm(more[-1] - before))  # where a recall without a morph jumps
        assert cut > 1.0
        assert _largest_step([before, *latents, *more]) < 0.25 * cut
        tick(loop, 35)  # scene_s after the first: "dusk"
        assert inst.desk.cue == 1 and inst.nav.seed == 9
    finally:
        rt.close()


def test_attract_with_no_scenes_recalls_the_loops_keyframes(show_dict, tmp_path) -> None:
    rng = np.random.default_rng(2)
    frames = [rng.standard_normal(16).astype(np.float32) for _ in range(3)]
    SceneBook(tmp_path / "scenes.yaml", [], frames).save()
    data = {**show_dict, "performance": {"morph_s": 0.5, "quantize": "none"}}
    rt = _runtime(data, {"attract": {"after_min": 0.05, "scene_s": 1.0}}, base_dir=tmp_path)
    try:
        loop, inst = rt.loop, rt.instrument
        tick(loop, 92)
        assert inst.morph is not None and inst.morph.label == "keyframe 1"  # keyframe.recall 1
        tick(loop, 20)  # past the morph: the loop plays on from that keyframe
        assert loop.targets["loop.on"] == 1.0 and inst.morph is None
    finally:
        rt.close()


def test_show_hours_fade_in_and_out_and_blank_or_dim_outside() -> None:
    hours = ScheduleConfig(hours=[("10:00", "18:00")], fade_s=600)
    assert level(9 * 60 + 59, hours) == (0.0, False)
    assert level(10 * 60 + 5, hours) == (pytest.approx(0.5), True)
    assert level(14 * 60, hours) == (1.0, True)
    assert level(17 * 60 + 55, hours) == (pytest.approx(0.5), True)
    assert level(18 * 60, hours) == (0.0, False)
    dim = ScheduleConfig(hours=[("20:00", "02:00")], outside="dim", dim=0.2, fade_s=0)
    assert level(23 * 60, dim) == (1.0, True) and level(1 * 60, dim) == (1.0, True)  # over midnight
    assert level(12 * 60, dim) == (0.2, False)
    assert level(0, ScheduleConfig()) == (1.0, True)


def test_outside_hours_the_loop_is_dark_and_slow_inside_it_plays(show_dict) -> None:
    rt = _runtime(show_dict, {})
    try:
        loop = rt.loop
        clock = {"now": datetime(2026, 12, 1, 8, 0)}
        schedule = Schedule(
            ScheduleConfig(hours=[("10:00", "18:00")], fade_s=60, idle_fps=2),
            restart=False,
            wall=lambda: clock["now"],
        )
        loop.hooks.tasks = (*loop.hooks.tasks, schedule.apply)
        tick(loop, 2)
        assert loop.dimmer == 0.0 and loop.settings.fps == 2
        assert not loop.renderer.host_arrays[loop._shown_index][..., :3].any()  # blank
        clock["now"] = datetime(2026, 12, 1, 10, 0, 30)
        tick(loop, 2)
        assert loop.dimmer == pytest.approx(0.5) and loop.settings.fps == 30
        assert loop.renderer.host_arrays[loop._shown_index][..., :3].any()
        assert rt.services[-1].guard.recoveries == 0  # a scheduled black is not a broken model
    finally:
        rt.close()


def test_the_daily_restart_ends_the_show_with_its_exit_code(show_dict) -> None:
    rt = _runtime(show_dict, {})
    try:
        loop = rt.loop
        clock = {"now": datetime(2026, 12, 1, 4, 29, 59)}
        schedule = Schedule(
            ScheduleConfig(restart_at="04:30"), restart=True, wall=lambda: clock["now"]
        )
        loop.hooks.tasks = (*loop.hooks.tasks, schedule.apply)
        tick(loop, 2)
        clock["now"] = datetime(2026, 12, 1, 4, 30, 1)
        tick(loop)  # a show started a moment ago does not restart (it may be the restarted one)
        clock["now"] = datetime(2026, 12, 2, 4, 29, 59)  # the next day, up for five minutes
        loop._started -= 300
        tick(loop)
        clock["now"] = datetime(2026, 12, 2, 4, 30, 1)
        with pytest.raises(SystemExit) as exc:
            tick(loop)
        assert exc.value.code == EXIT_RESTART
    finally:
        rt.close()
