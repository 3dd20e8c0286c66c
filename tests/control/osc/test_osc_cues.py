"""The cue actions the OSC address space added to the registry, run by the real loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from osc_support import show_dict

from installation.app import RunOptions, ShowRuntime
from installation.config.show import parse_show
from installation.events import ControlEvent


@pytest.mark.parametrize(
    ("phase", "action", "expected"),
    [
        (2.3, "cue.next", 3.0),
        (2.0, "cue.next", 3.0),
        (2.3, "cue.previous", 2.0),
        (2.0, "cue.previous", 1.0),
    ],
)
def test_cues_cut_to_a_keyframe(tmp_path: Path, phase: float, action: str, expected: float) -> None:
    data = show_dict(tmp_path, enabled=False)
    data["navigator"]["speed"] = 0.0
    runtime = ShowRuntime(parse_show(data, base_dir=tmp_path), RunOptions(headless=True))
    try:
        loop = runtime.build_loop()
        loop.phase = phase
        loop.hooks.events.put(ControlEvent(action, source="osc:127.0.0.1:1"))
        loop.step()
        assert loop.phase == expected
    finally:
        runtime.close()
