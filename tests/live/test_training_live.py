"""The show learning while it plays: the real trainer (`python -m installation train`) as a
supervised child process, its checkpoints hot-swapped into the real loop; then the trainer
is killed (restarted, resuming its run) and paused from the keyboard.

One test, because starting a trainer costs seconds: a tiny MLP GAN on 16 procedural images.
"""

from __future__ import annotations

import os
import signal
import time

import pygame
import pytest

from installation.app import RunOptions, ShowRuntime
from installation.config.show import parse_show
from installation.live.service import LiveModels
from installation.stats import read_stats
from tests.live._hotswap_util import save, script_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals a child process")
FPS = 20


def test_the_show_trains_swaps_survives_a_killed_trainer_and_pauses_it(tmp_path, monkeypatch):
    # The trainer child must import this checkout's package, wherever pytest runs from.
    monkeypatch.setenv("PYTHONPATH", script_env()["PYTHONPATH"])
    save(tmp_path / "models" / "show", step=0, seed=100, name="show")
    data = {
        "model": {"path": "models/show", "device": "cpu"},
        "display": {"fps": FPS, "fullscreen": False, "vsync": False},
        "hotswap": {"poll_s": 0.1, "crossfade_s": 0.2},
        "training": {
            "enabled": True,
            "architecture": "mlp",
            "resolution": 28,
            "batch": 4,
            "steps": 100_000,
            "save_every": 5,
            "keep": 2,
            "out": "models/live",
            "device": "cpu",
            "extra_args": ["--synthetic-n", "16", "--width", "4", "--sample-every", "1000"],
        },
        "osc": {"enabled": False},
        "midi": {"enabled": False},
    }
    stats_path = tmp_path / "stats.jsonl"
    runtime = ShowRuntime(
        parse_show(data, base_dir=tmp_path),
        RunOptions(headless=True, size=(64, 64), stats=stats_path),
    )
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        service = next(s for s in runtime.services if isinstance(s, LiveModels))
        trainer = service.trainer
        assert trainer is not None

        def events(name):
            return [e for e in read_stats(stats_path)[1] if e["event"] == name]

        def run_until(predicate, seconds=120.0):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                loop.step()
                time.sleep(1 / FPS)
                if predicate():
                    return
            raise AssertionError(
                f"timed out; events: {read_stats(stats_path)[1]}; "
                f"log: {(tmp_path / 'models/live/train.log').read_text()[-2000:]}"
            )

        run_until(lambda: any(e["model"]["id"] == "live" for e in events("swap")))
        assert loop.renderer.model.card.architecture == "mlp"
        run_until(
            lambda: any(line.startswith("training: running step") for line in service.hud_lines())
        )

        first_pid = trainer.status.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)  # the trainer dies; the show must not notice
        frames_before = loop.frame
        run_until(lambda: trainer.starts == 2 and trainer.status.state == "running", seconds=60)
        assert loop.frame > frames_before and events("render_error") == []
        (exit_event,) = events("trainer_exit")
        assert exit_event["code"] == -signal.SIGKILL
        assert "--resume" in (tmp_path / "models/live/train.log").read_text().split("starting:")[-1]

        pygame.event.post(
            pygame.event.Event(pygame.KEYDOWN, key=pygame.K_t, mod=0, unicode="", scancode=0)
        )
        run_until(lambda: trainer.status.state == "paused", seconds=10)
        assert loop.targets["training.paused"] == 1.0
        run_until(
            lambda: any(line.startswith("training: paused") for line in service.hud_lines()),
            seconds=5,
        )
    finally:
        runtime.close()
    assert trainer.status.state == "stopped"
