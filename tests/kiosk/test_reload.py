"""Live reload of show.yaml: a real file edited under a real render loop (dummy display)."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from installation.app import RunOptions, ShowRuntime
from installation.config.show import load_show, parse_show
from installation.kiosk.reload import plan_reload
from installation.params import REGISTRY
from installation.stats import read_stats


def _write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _start(show_dict: dict, tmp_path: Path) -> tuple[ShowRuntime, Path]:
    path = tmp_path / "show.yaml"
    _write(path, show_dict)
    rt = ShowRuntime(
        load_show(path),
        RunOptions(
            headless=True, fixed_step=True, fps=30, show_path=path, stats=tmp_path / "s.jsonl"
        ),
    )
    rt.build_loop()
    rt.start_services()
    return rt, path


def _until(rt: ShowRuntime, predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        rt.loop.step()
        time.sleep(0.02)


def _hud(rt: ShowRuntime) -> list[str]:
    return [line for source in rt.hooks.hud_lines for line in source()]


def test_a_valid_edit_is_applied_live_without_a_jump(show_dict, tmp_path) -> None:
    rt, path = _start(show_dict, tmp_path)
    try:
        loop = rt.loop
        for _ in range(3):
            loop.step()
        navigator, display = loop.navigator, loop.display
        edited = {
            **show_dict,
            "parameters": {"output.brightness": {"default": 0.5, "smoothing": 0.0}},
            "navigator": {**show_dict["navigator"], "seed": 11, "speed": 0.75},
            "display": {**show_dict["display"], "fit": "contain", "hud": True},
        }
        _write(path, edited)
        _until(rt, lambda: loop.navigator is not navigator, "the new navigator")
        assert loop.navigator.seed == 11
        assert loop.targets["output.brightness"] == 0.5 and loop.targets["walk.speed"] == 0.75
        assert loop.targets["hud.visible"] == 1.0
        assert loop.display is display and display.settings.fit == "contain"
        assert loop._previous_navigator is navigator  # the old walk fades out, no jump
        assert any(line.startswith("show.yaml applied: parameters, navigator") for line in _hud(rt))
    finally:
        rt.close()
    _, events = read_stats(tmp_path / "s.jsonl")
    assert [e["event"] for e in events if e["event"].startswith("show_")] == ["show_reloaded"]


def test_an_invalid_edit_is_rejected_on_the_hud_and_the_show_is_untouched(
    show_dict, tmp_path, caplog
) -> None:
    rt, path = _start(show_dict, tmp_path)
    try:
        loop = rt.loop
        loop.step()
        registry, navigator, targets = loop.registry, loop.navigator, dict(loop.targets)
        path.write_text(path.read_text() + "navigatr: {seed: 3}\n", encoding="utf-8")
        _until(rt, lambda: any("rejected" in line for line in _hud(rt)), "the rejection on the HUD")
        (line,) = [line for line in _hud(rt) if "rejected" in line]
        assert "navigatr" in line and "did you mean 'navigator'" in line
        assert loop.registry is registry and loop.navigator is navigator and loop.targets == targets
        assert any("show.yaml edit rejected" in r.getMessage() for r in caplog.records)
        _write(path, show_dict)  # fixed again: the rejection leaves the HUD
        _until(rt, lambda: not any("rejected" in line for line in _hud(rt)), "the HUD to clear")
    finally:
        rt.close()
    _, events = read_stats(tmp_path / "s.jsonl")
    assert [e["event"] for e in events if e["event"].startswith("show_")] == ["show_file_invalid"]


def test_what_cannot_change_live_is_named(show_dict, tmp_path) -> None:
    old = parse_show(show_dict)
    new = parse_show(
        {
            **show_dict,
            "display": {**show_dict["display"], "size": [320, 180], "filter": "nearest"},
            "osc": {"enabled": False, "mappings": [{"address": "/f", "target": "walk.speed"}]},
        }
    )
    plan = plan_reload(old, new, REGISTRY)
    assert plan.needs_restart == ("display.size",)
    assert plan.applied == ("display.filter", "osc.mappings") and plan.osc_mappings
    assert plan.display == {"filter": "nearest"} and plan.registry is None
