"""The frame guard in a real render loop (tiny model, pygame dummy display, fixed-step clock).

Broken pictures come from the model's own decode, patched to poison its output: a stand-in
for a generator that diverged (a real NaN checkpoint is refused by validation long before
it could play, so it cannot reach the loop any other way)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from installation.app import RunOptions, ShowRuntime
from installation.checkpoints import load_checkpoint
from installation.config.show import parse_show
from installation.stats import read_stats

from ..conftest import make_model
from ._kiosk_util import tick


def _runtime(show_dict: dict, tmp_path: Path, **kiosk) -> ShowRuntime:
    show = parse_show(
        {**show_dict, "kiosk": {"stall_s": 0.5, "black_s": 0.5, "good_after_s": 0.5, **kiosk}}
    )
    rt = ShowRuntime(
        show, RunOptions(headless=True, fixed_step=True, fps=30, stats=tmp_path / "s.jsonl")
    )
    rt.build_loop()
    rt.start_services()
    return rt


def shown(loop) -> np.ndarray:
    return loop.renderer.host_arrays[loop._shown_index].copy()


def poison(model, every: int, value: float = float("nan")):
    """Every `every`th decode returns `value` everywhere (every=1: all of them)."""
    decode, calls = model.module.decode, [0]

    def poisoned(z):
        calls[0] += 1
        x = decode(z)
        return x.fill_(value) if calls[0] % every == 0 else x

    model.module.decode = poisoned


def test_a_nan_every_kth_frame_is_replaced_by_the_last_good_frame_and_counted(
    show_dict, tmp_path
) -> None:
    rt = _runtime(show_dict, tmp_path)
    try:
        loop = rt.loop
        tick(loop)
        poison(loop.renderer.model, every=4)
        for _ in range(40):
            before, refused = shown(loop), loop.refused.get("non-finite", 0)
            tick(loop)
            if loop.refused.get("non-finite", 0) > refused:  # refused: the same picture stays
                np.testing.assert_array_equal(shown(loop), before)
            else:
                assert not np.array_equal(shown(loop), before)  # a new picture (the walk moves)
        assert loop.refused == {"non-finite": 10}
        assert loop.status()["refused_frames"] == 10
        assert loop.recoveries == 0  # one bad frame in four is not a stall
    finally:
        rt.close()
    frames, _ = read_stats(tmp_path / "s.jsonl")
    assert len(frames) == 41  # every frame was presented: the refused ones as the last good picture


def test_a_refused_frame_keeps_exactly_the_previous_picture(show_dict, tmp_path) -> None:
    rt = _runtime(show_dict, tmp_path)
    try:
        loop = rt.loop
        tick(loop, 3)
        good = shown(loop)
        poison(loop.renderer.model, every=1, value=float("inf"))
        tick(loop, 5)
        np.testing.assert_array_equal(shown(loop), good)
        assert loop.refused == {"non-finite": 5}
    finally:
        rt.close()


def test_black_too_long_holds_the_last_good_frame_then_recovers(show_dict, tmp_path) -> None:
    rt = _runtime(show_dict, tmp_path)
    try:
        loop = rt.loop
        tick(loop, 3)
        good = shown(loop)
        poison(loop.renderer.model, every=1, value=-1.0)  # a collapsed generator: all black
        tick(loop, 10)  # 0.33 s: shorter than black_s, shown as it is (a fade to black is art)
        assert not shown(loop)[..., :3].any()
        tick(loop, 10)  # past black_s: refused from now on, the last picture comes back
        assert loop.renderer.refuse_black and loop.refused.get("black", 0) > 0
        np.testing.assert_array_equal(shown(loop), good)
        tick(loop, 20)  # refused for stall_s: the show recovers by itself
        assert loop.recoveries == 1
    finally:
        rt.close()
    _, events = read_stats(tmp_path / "s.jsonl")
    assert [e["event"] for e in events if e["event"] in ("swap", "recovery")] == ["recovery"]


def test_black_at_brightness_zero_is_what_was_asked_for(show_dict, tmp_path) -> None:
    show_dict = {
        **show_dict,
        "parameters": {"output.brightness": {"default": 0.0, "smoothing": 0.0}},
    }
    rt = _runtime(show_dict, tmp_path)
    try:
        loop = rt.loop
        poison(loop.renderer.model, every=1, value=-1.0)
        tick(loop, 40)
        assert loop.refused == {} and loop.recoveries == 0
    finally:
        rt.close()


def test_a_broken_new_model_makes_the_show_cut_back_to_the_last_known_good(
    show_dict, tmp_path
) -> None:
    other = load_checkpoint(make_model(tmp_path / "other", name="other", seed=9, step=7))
    rt = _runtime(show_dict, tmp_path)
    try:
        loop = rt.loop
        tick(loop, 20)  # 0.67 s of clean frames: the first model is the last known good
        first = loop.renderer.model
        assert rt.services[-1].guard.last_good is first
        poison(other, every=1)
        loop._swap(rt.hooks.prepare(other), loop.clock.now())
        tick(loop, 30)
        assert loop.renderer.model is first and loop.recoveries == 1
        assert loop.renderer.previous is None  # a cut, not a crossfade from a broken picture
    finally:
        rt.close()
    _, events = read_stats(tmp_path / "s.jsonl")
    assert [e["event"] for e in events if e["event"] in ("swap", "recovery")] == [
        "swap",
        "swap",
        "recovery",
    ]
    assert events[1]["model"]["id"] == events[2]["model"]["id"] == "tiny"


def test_a_stalled_frame_triggers_a_recovery(show_dict, tmp_path) -> None:
    show = parse_show({**show_dict, "kiosk": {"stall_s": 0.2}})
    rt = ShowRuntime(show, RunOptions(headless=True, fps=30))  # real time: a stall is real
    try:
        rt.build_loop()
        rt.start_services()
        loop = rt.loop
        for _ in range(3):
            loop.step()
        decode = loop.renderer.model.module.decode

        def slow(z):
            loop.renderer.model.module.decode = decode
            time.sleep(0.3)  # the stall itself (a driver call that hangs a while) is under test
            return decode(z)

        loop.renderer.model.module.decode = slow
        loop.step()
        loop.step()
        assert loop.recoveries == 1
    finally:
        rt.close()
