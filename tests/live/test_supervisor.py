"""The trainer supervisor, with real child processes (a stand-in trainer script).

The stand-in is tests/_fake_trainer.py: it marks each start with a file, then raises, runs
until SIGTERM, or ignores SIGTERM, as asked. (The real trainer is exercised in test_training_live.py.)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from installation.live.supervisor import TrainerSupervisor
from tests.live._hotswap_util import HERE, script_env
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and SIGSTOP are POSIX")


def proc_state(pid: int) -> str:
    """The one-letter state from /proc/PID/stat (R, S, T stopped, Z ...)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()[0]


def make(tmp_path, mode, **kw):
    events = []
    sup = TrainerSupervisor(
        lambda: [sys.executable, str(HERE / "_fake_trainer.py"), str(tmp_path), "--mode", mode],
        log_path=tmp_path / "train.log",
        env=script_env(),
        on_event=lambda name, **f: events.append((name, f)),
        **kw,
    )
    return sup, events


def test_a_raising_trainer_is_restarted_with_growing_back_off(tmp_path):
    sup, events = make(tmp_path, "raise", backoff_initial_s=0.1, backoff_max_s=0.4)
    sup.start()
    try:
        assert wait_for(lambda: sup.starts >= 4, timeout=20.0)
    finally:
        sup.stop()
    exits = [f for name, f in events if name == "trainer_exit"]
    assert [e["restart_in"] for e in exits[:3]] == [0.1, 0.2, 0.4]
    assert all(e["code"] == 1 for e in exits)
    assert "RuntimeError: training diverged" in exits[0]["reason"]
    assert "step 3: loss is NaN" in (tmp_path / "train.log").read_text()
    assert sup.status.state == "stopped" and sup.status.restarts >= 3


def test_a_killed_trainer_is_restarted_and_runs_at_low_priority(tmp_path):
    sup, events = make(tmp_path, "good", backoff_initial_s=0.1)
    sup.start()
    try:
        assert wait_for(lambda: (tmp_path / "started-0").exists(), timeout=20.0)
        pid = sup.status.pid
        assert pid is not None
        if hasattr(os, "getpriority"):
            assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: (tmp_path / "started-1").exists(), timeout=20.0)
        assert sup.status.pid != pid and sup.status.state == "running"
    finally:
        sup.stop()
    exits = [f for name, f in events if name == "trainer_exit"]
    assert exits[0]["code"] == -signal.SIGKILL


def test_a_finished_trainer_is_not_restarted(tmp_path):
    sup = TrainerSupervisor(
        lambda: [sys.executable, "-c", "pass"],
        log_path=tmp_path / "train.log",
        backoff_initial_s=0.05,
    )
    sup.start()
    try:
        assert wait_for(lambda: sup.status.state == "finished", timeout=20.0)
        # Its thread has ended, so nothing is left that could start the trainer again.
        assert wait_for(lambda: not sup._thread.is_alive(), timeout=20.0)
        assert sup.starts == 1
    finally:
        sup.stop()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_pause_resume_and_stop(tmp_path):
    sup, events = make(tmp_path, "good")
    sup.start()
    try:
        assert wait_for(lambda: (tmp_path / "started-0").exists(), timeout=20.0)
        pid = sup.status.pid
        sup.pause()
        assert wait_for(lambda: proc_state(pid) == "T", timeout=20.0)
        assert wait_for(lambda: sup.status.state == "paused", timeout=20.0)
        sup.resume()
        assert wait_for(lambda: proc_state(pid) in "RS", timeout=20.0)
        assert wait_for(lambda: sup.status.state == "running", timeout=20.0)
        sup.pause()  # a stopped trainer must still end cleanly on stop()
        assert wait_for(lambda: proc_state(pid) == "T", timeout=20.0)
    finally:
        start = time.monotonic()
        sup.stop()
    assert time.monotonic() - start < 5  # SIGTERM was handled: no wait for the kill timeout
    assert not Path(f"/proc/{pid}").exists() or proc_state(pid) == "Z"
    names = [name for name, _ in events]
    assert names.count("training_paused") == 2 and names.count("training_resumed") == 1
    assert "trainer_exit" not in names  # stopping is not a failure


def test_a_trainer_that_ignores_sigterm_is_killed(tmp_path):
    sup, _ = make(tmp_path, "hang", stop_timeout_s=0.5)
    sup.start()
    assert wait_for(lambda: (tmp_path / "started-0").exists(), timeout=20.0)
    pid = sup.status.pid
    sup.stop()
    assert sup.status.state == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_cpu_share_duty_cycles_the_trainer(tmp_path):
    sup, _ = make(tmp_path, "good", cpu_share=0.5)
    sup.start()
    try:
        assert wait_for(lambda: (tmp_path / "started-0").exists(), timeout=20.0)
        pid = sup.status.pid
        states = set()
        for _ in range(60):
            states.add(proc_state(pid))
            time.sleep(0.03)
    finally:
        sup.stop()
    assert "T" in states and states & {"R", "S"}
