"""Attract mode and the schedule in a real render loop (fixed-step clock, dummy display);
the schedule's wall clock is injected, so show hours are tested at any time of day."""

from __future__ import annotations

from datetime import datetime

import pytest

from installation.app import ShowRuntime
from installation.config.show import parse_show
from installation.events import ControlEvent
from installation.kiosk.config import ScheduleConfig
from installation.kiosk.schedule import EXIT_RESTART, Schedule, level

from ._kiosk_util import playing, tick

SCENES = {
    "calm": {"walk.speed": 0.1, "latent.truncation": 0.5},
    "wild": {"walk.speed": 1.2, "latent.truncation": 1.4},
}


def _runtime(show_dict: dict, kiosk: dict) -> ShowRuntime:
    return playing(parse_show({**show_dict, "scenes": SCENES, "kiosk": kiosk}))


def test_attract_tours_the_scenes_after_no_input_and_the_first_input_hands_back(show_dict) -> None:
    rt = _runtime(show_dict, {"attract": {"after_min": 0.05, "scene_s": 1.0}})  # 3 s
    try:
        loop = rt.loop
        tick(loop, 60)  # 2 s: not yet
        assert loop.targets["latent.truncation"] != 0.5
        tick(loop, 40)  # past 3 s: the tour starts with the first scene
        assert (
            loop.targets["latent.truncation"] == 0.5 and loop.targets["walk.speed"] == 0.2
        )  # at least 0.2
        tick(loop, 31)
        assert loop.targets["latent.truncation"] == 1.4 and loop.targets["walk.speed"] == 1.2
        before = dict(loop.values)
        loop.hooks.events.put(ControlEvent("latent.truncation", 1.3, source="osc"))
        tick(loop)
        assert loop.targets["latent.truncation"] == 1.3
        assert loop.targets["walk.speed"] == 1.2  # nothing reset: no jump
        assert abs(loop.values["walk.speed"] - before["walk.speed"]) < 0.2
        tick(loop, 31)
        assert loop.targets["latent.truncation"] == 1.3  # the tour stays over until idle again
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
