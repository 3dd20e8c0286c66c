"""The supervisor's policy (wedge kill, crash-loop fallbacks, quit, stop) with a real
supervisor and real child processes; the child is tests/kiosk/_fake_show.py, a stand-in
that speaks the same protocol without importing torch, so a crash loop runs in seconds.
What a real show does under the supervisor is tested in test_supervisor.py."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from installation.kiosk.config import KioskConfig
from installation.kiosk.supervisor import Supervisor

from ._kiosk_util import wait_for

FAKE = [sys.executable, str(Path(__file__).with_name("_fake_show.py"))]


@pytest.fixture
def run_supervisor(tmp_path: Path, monkeypatch):
    started: list[tuple[Supervisor, threading.Thread]] = []

    def start(plan: dict, **config) -> Supervisor:
        (tmp_path / "plan.json").write_text(json.dumps(plan))
        monkeypatch.setenv("FAKE_SHOW_PLAN", str(tmp_path / "plan.json"))
        sup = Supervisor(
            ["run", "show.yaml"],
            KioskConfig(**config),
            state_dir=tmp_path / "state",
            child_command=FAKE,
        )
        result: dict = {}
        thread = threading.Thread(target=lambda: result.setdefault("rc", sup.run()), daemon=True)
        sup.result = result  # type: ignore[attr-defined]
        thread.start()
        started.append((sup, thread))
        return sup

    yield start
    for sup, thread in started:
        sup._stopping = True
        thread.join(30)
        assert not thread.is_alive()


def status(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "state" / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {}


def test_user_errors_fall_back_one_level_each_down_to_the_still_frame(
    run_supervisor, tmp_path
) -> None:
    sup = run_supervisor({"0": "exit2", "1": "exit2", "2": "exit2", "3": "play"})
    final = wait_for(
        lambda: (s := status(tmp_path)).get("level") == 3 and s.get("up") and s,
        30,
        "the still frame",
    )
    assert final["restarts"] == 3
    assert final["last_error"] == "model: fake failure at level 2"
    assert sup.level == 3


def test_n_crashes_within_the_window_move_to_the_next_fallback(run_supervisor, tmp_path) -> None:
    run_supervisor({"0": "crash", "default": "play"}, restarts=3, restart_window_min=5)
    final = wait_for(
        lambda: (s := status(tmp_path)).get("level") == 1 and s.get("up") and s,
        30,
        "the last known good level",
    )
    assert final["restarts"] == 3 and final["last_error"] == "RuntimeError: fake crash"


def test_a_show_that_stops_beating_is_killed_and_replaced(run_supervisor, tmp_path) -> None:
    sup = run_supervisor({"default": "wedge"}, wedged_s=0.5, restarts=100)
    final = wait_for(
        lambda: (s := status(tmp_path)).get("restarts", 0) >= 2 and s, 30, "two wedge kills"
    )
    assert final["last_error"].startswith("the show wedged: no heartbeat for")
    assert final["level"] == 0 and sup.restart_s  # each time it came back


def test_a_quit_show_ends_the_supervisor_with_0(run_supervisor, tmp_path) -> None:
    sup = run_supervisor({"default": "quit"})
    wait_for(lambda: "rc" in sup.result, 30, "the supervisor to end")  # type: ignore[attr-defined]
    assert sup.result["rc"] == 0 and sup.restarts == 0  # type: ignore[attr-defined]


def test_stopping_the_supervisor_stops_the_show_and_the_standby(run_supervisor, tmp_path) -> None:
    sup = run_supervisor({"default": "play"})
    first = wait_for(
        lambda: (s := status(tmp_path)).get("up") and s.get("standby_ready") and s, 30, "up"
    )
    standby = sup._standby
    assert standby is not None
    sup._stopping = True
    wait_for(lambda: "rc" in sup.result, 30, "the supervisor to end")  # type: ignore[attr-defined]
    with pytest.raises(ProcessLookupError):
        os.kill(first["show_pid"], 0)
    assert standby.proc.poll() is not None
    assert sup._active is not None and sup._active.proc.returncode == -signal.SIGTERM  # asked first


def test_a_daily_restart_is_not_counted_as_a_crash(run_supervisor, tmp_path) -> None:
    sup = run_supervisor({"default": "restart-once"})
    wait_for(
        lambda: (tmp_path / "plan.json.restarted").exists() and status(tmp_path).get("up"),
        30,
        "back up",
    )
    assert sup.restarts == 0 and sup.level == 0 and sup.restart_s


def test_a_failing_still_frame_backs_off_instead_of_spinning(run_supervisor, tmp_path) -> None:
    sup = run_supervisor({"default": "crash"}, restarts=1)
    wait_for(lambda: sup._still_failures >= 1, 30, "the still frame failing")
    restarts = sup.restarts
    time.sleep(1.0)  # within the 2 s back-off nothing is started: what is under test is "nothing"
    assert sup.restarts == restarts
