"""Headless runs end to end through the CLI, and the render loop's behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest

from installation.app import RunOptions, ShowRuntime
from installation.checkpoints import load_checkpoint
from installation.cli import main
from installation.config.show import parse_show
from installation.events import ControlEvent
from installation.live.swap import SwapBox
from installation.stats import read_stats

from .conftest import make_model

FRAME_FIELDS = {"frame", "t", "frame_ms", "gen_ms", "present_ms", "model", "params"}


def test_headless_run_writes_n_frames_and_n_stats_lines(show_file: Path, tmp_path: Path) -> None:
    out, stats = tmp_path / "frames", tmp_path / "stats.jsonl"
    code = main(
        [
            "run",
            str(show_file),
            "--headless",
            "--frames",
            "12",
            "--out",
            str(out),
            "--stats",
            str(stats),
        ]
    )
    assert code == 0
    frames, events = read_stats(stats)
    assert len(frames) == 12 and events == []
    assert [f["frame"] for f in frames] == list(range(12))
    for record in frames:
        assert FRAME_FIELDS <= record.keys()
        assert record["model"] == {"id": "tiny", "version": 0}
        assert record["params"]["walk.speed"] == 0.5
    assert all(b["t"] > a["t"] for a, b in zip(frames, frames[1:], strict=False))
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 12
    image = pygame.image.load(str(pngs[-1]))
    assert image.get_size() == (160, 90)


@pytest.mark.parametrize("flags,stepped", [([], True), (["--realtime"], False)])
def test_out_steps_time_by_one_frame_period_unless_realtime(
    show_file, tmp_path, flags, stepped
) -> None:
    out, stats = tmp_path / "frames", tmp_path / "stats.jsonl"
    argv = [
        "run",
        str(show_file),
        "--headless",
        "--frames",
        "5",
        "--fps",
        "25",
        "--out",
        str(out),
        "--stats",
        str(stats),
        *flags,
    ]
    assert main(argv) == 0
    frames, _ = read_stats(stats)
    gaps = [b["t"] - a["t"] for a, b in zip(frames, frames[1:], strict=False)]
    assert len(gaps) == 4
    if stepped:  # a video of these frames at 25 fps plays at the show's own pace
        assert gaps == pytest.approx([0.04] * 4, abs=1e-9)
    else:
        assert all(g > 0 for g in gaps) and gaps != pytest.approx([0.04] * 4, abs=1e-9)


def _render(show_dict: dict, tmp_path: Path, pipeline: str, frames: int = 8) -> list[np.ndarray]:
    show = parse_show(
        {**show_dict, "display": {**show_dict["display"], "pipeline": pipeline, "fps": 30}}
    )
    out = tmp_path / pipeline
    runtime = ShowRuntime(show, RunOptions(headless=True, frames=frames, fixed_step=True, out=out))
    try:
        runtime.build_loop().run()
    finally:
        runtime.close()
    return [pygame.surfarray.array3d(pygame.image.load(str(p))) for p in sorted(out.glob("*.png"))]


def test_fixed_step_renders_are_repeatable_and_pipelining_keeps_the_picture(
    show_dict, tmp_path
) -> None:
    sequential = _render(show_dict, tmp_path, "off")
    pipelined = _render(show_dict, tmp_path, "on")
    again = _render(show_dict, tmp_path / "again", "off")
    assert len(sequential) == len(pipelined) == 8
    for a, b, c in zip(sequential, pipelined, again, strict=True):
        np.testing.assert_array_equal(a, c)
        # Single-threaded workers sum in another order than torch's pool: +-1 after rounding.
        np.testing.assert_allclose(a.astype(int), b.astype(int), atol=1)
    assert not np.array_equal(sequential[0], sequential[-1])  # the walk moves


def tick(loop) -> None:
    """One frame of a loop driven by hand: move the virtual clock a frame, then step."""
    loop.clock.sleep_until(loop.clock.now() + 1 / 30)
    loop.step()


def _runtime(show_dict: dict, **opts) -> ShowRuntime:
    return ShowRuntime(
        parse_show(show_dict), RunOptions(headless=True, fixed_step=True, fps=30, **opts)
    )


def test_keyboard_pause_hud_screenshot_and_quit(show_dict, tmp_path: Path) -> None:
    show_dict["display"]["screenshots"] = str(tmp_path / "shots")
    runtime = _runtime(show_dict, frames=100, stats=tmp_path / "s.jsonl")
    try:
        loop = runtime.build_loop()
        loop.step()
        for key in (pygame.K_SPACE, pygame.K_h, pygame.K_s):
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
        loop.step()
        assert loop.targets["walk.paused"] == 1.0 and loop.targets["hud.visible"] == 1.0
        assert len(list((tmp_path / "shots").glob("*.png"))) == 1
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
        assert loop.run() < 100  # quit ends the run early
    finally:
        runtime.close()
    _, events = read_stats(tmp_path / "s.jsonl")
    assert [e["event"] for e in events] == ["screenshot"]


def test_events_from_other_threads_reach_params_within_a_frame(show_dict) -> None:
    runtime = _runtime(show_dict)
    try:
        loop = runtime.build_loop()
        loop.hooks.events.put(ControlEvent("latent.truncation", 1.5, source="test"))
        loop.step()
        assert loop.targets["latent.truncation"] == 1.5
    finally:
        runtime.close()


def test_render_error_is_shown_not_raised(show_dict) -> None:
    runtime = _runtime(show_dict)
    try:
        loop = runtime.build_loop()
        loop.step()

        def broken(z):
            raise RuntimeError("generator exploded")

        loop.renderer.model.module.decode = broken
        loop.step()
        assert loop.error is not None and "generator exploded" in loop.error
        assert loop._hud_text()[-1].startswith("render error")
    finally:
        runtime.close()


def test_swap_box_model_crossfades_in(show_dict, tmp_path: Path) -> None:
    other = load_checkpoint(make_model(tmp_path / "other", name="other", seed=9, step=7))
    runtime = _runtime(show_dict, stats=tmp_path / "s.jsonl")
    try:
        loop = runtime.build_loop()
        loop.hooks.swap_box = box = SwapBox()
        loop.settings.crossfade_s = 0.1  # three frames at 30 fps
        tick(loop)
        box.offer(other)
        tick(loop)
        assert loop.renderer.model is other and loop.renderer.previous is not None
        for _ in range(4):
            tick(loop)
        assert loop.renderer.previous is None
    finally:
        runtime.close()
    frames, events = read_stats(tmp_path / "s.jsonl")
    swap = next(e for e in events if e["event"] == "swap")
    assert swap["model"]["id"] == "other" and swap["previous"]["id"] == "tiny"
    assert frames[-1]["model"] == {"id": "other", "version": 7}


def test_fixed_step_needs_a_frame_rate(show_file: Path, capsys) -> None:
    assert (
        main(["run", str(show_file), "--headless", "--fixed-step", "--fps", "0", "--frames", "2"])
        == 2
    )
    assert "--fixed-step needs an fps cap" in capsys.readouterr().err


@pytest.mark.parametrize("fit", ["cover", "contain", "stretch"])
def test_every_fit_fills_the_output(show_dict, tmp_path: Path, fit: str) -> None:
    show_dict["display"]["fit"] = fit
    runtime = _runtime(show_dict, frames=1, out=tmp_path)
    try:
        runtime.build_loop().run()
    finally:
        runtime.close()
    pixels = pygame.surfarray.array3d(pygame.image.load(str(tmp_path / "frame_000000.png")))
    assert pixels.shape[:2] == (160, 90)
    corner_black = not pixels[0, 0].any()
    assert corner_black == (fit == "contain")  # only letterboxing leaves bars


def test_a_failing_mapper_or_feedback_never_stops_the_show(show_dict) -> None:
    runtime = _runtime(show_dict)
    heard = []

    def bad_mapper(events, targets, now):
        raise ValueError("mapping bug")

    def bad_feedback(changed, events):
        heard.append(changed)
        raise OSError("client gone")

    try:
        loop = runtime.build_loop()
        loop.hooks.mappers = [bad_mapper]
        loop.hooks.feedback = [bad_feedback]
        loop.hooks.events.put(ControlEvent("walk.speed", 1.0))
        tick(loop)
        assert loop.targets["walk.speed"] == 0.5  # the batch was dropped, not half-applied
        loop.hooks.mappers = []
        loop.hooks.events.put(ControlEvent("walk.speed", 1.0))
        tick(loop)
        assert loop.targets["walk.speed"] == 1.0 and heard == [{"walk.speed": 1.0}]
        assert loop.frame == 2
    finally:
        runtime.close()


@pytest.mark.parametrize("threads,expected", [("auto", 1), (2, 2)])
def test_cpu_render_threads_follow_the_show_and_are_restored(show_dict, threads, expected) -> None:
    import torch

    show_dict["model"]["threads"] = threads
    before = torch.get_num_threads()
    runtime = _runtime(show_dict)  # capped at 30 fps: the sequential loop
    try:
        runtime.build_loop()
        assert torch.get_num_threads() == expected
    finally:
        runtime.close()
    assert torch.get_num_threads() == before


def test_torch_threads_are_decided_in_one_place(show_dict, monkeypatch) -> None:
    import os

    import torch

    from installation.app import torch_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    plain = parse_show({**show_dict, "model": {**show_dict["model"], "threads": 4}})
    assert torch_threads(plain, cpu, pipelined=False) == 4
    assert torch_threads(plain, cpu, pipelined=True) == 1  # one single-threaded worker per core
    assert torch_threads(plain, gpu, pipelined=False) is None
    training = {"enabled": True, "threads": 6}
    trains = parse_show(
        {**show_dict, "model": {**show_dict["model"], "threads": 4}, "training": training}
    )
    assert torch_threads(trains, cpu, pipelined=False) == 2  # the trainer's 6 cores are its own
    assert torch_threads(trains, gpu, pipelined=False) == 2
