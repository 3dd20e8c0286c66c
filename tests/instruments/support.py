"""A real show (tiny model, dummy display) stepped frame by frame in virtual time."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from installation.app import RunOptions, ShowRuntime
from installation.config.show import parse_show
from installation.events import ControlEvent
from tests.conftest import make_model


def show_dict(tmp_path: Path, **performance) -> dict:
    model = tmp_path / "models" / "tiny"
    if not model.exists():
        make_model(model)
    return {
        "display": {
            "size": [64, 36],
            "fullscreen": False,
            "fps": 20,
            "vsync": False,
            "pipeline": "off",
        },
        "model": {"path": str(model), "device": "cpu"},
        "navigator": {"seed": 3, "speed": 0.5},
        "osc": {"enabled": False},
        "midi": {"enabled": False},
        "hotswap": {"enabled": False},
        "performance": performance,
    }


class Stepped:
    """Steps a real show's loop at exactly 1/fps a frame, recording what each frame had."""

    def __init__(self, tmp_path: Path, data: dict | None = None, fps: float = 20.0, **opts) -> None:
        self.fps = fps
        show = parse_show(data or show_dict(tmp_path), base_dir=tmp_path)
        self.runtime = ShowRuntime(
            show, RunOptions(headless=True, fixed_step=True, fps=fps, **opts)
        )
        self.loop = self.runtime.build_loop()
        self.runtime.start_services()
        self.instrument = self.runtime.instrument
        self.latents: list[np.ndarray] = []
        self.values: list[dict[str, float]] = []
        self.times: list[float] = []
        self.morphing: list[bool] = []
        self.targets: list[dict[str, float]] = []

    def step(self, events: Iterable[ControlEvent] = ()) -> None:
        loop = self.loop
        loop.clock.sleep_until(loop.frame / self.fps)
        for e in events:
            loop.hooks.events.put(e)
        loop.step()
        self.latents.append(np.array(self.instrument.z_last))
        self.values.append(dict(loop.values))
        self.times.append(loop.clock.now())
        self.morphing.append(self.instrument.morph is not None)
        self.targets.append(dict(loop.targets))

    def run(self, frames: int, schedule: dict[int, list[ControlEvent]] | None = None) -> None:
        for _ in range(frames):
            self.step((schedule or {}).get(self.loop.frame, ()))

    def close(self) -> None:
        self.runtime.close()


def ev(
    target: str, value: float = 1.0, text: str = "", source: str = "osc:127.0.0.1:1"
) -> ControlEvent:
    return ControlEvent(target, value, source=source, text=text)
