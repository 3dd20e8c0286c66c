"""A show's trainer dies with the show, and one training folder takes one writer (issue 16).

Real processes throughout: a real show (`python -m installation run`) that runs the real
trainer is SIGKILLed, and its trainer must be gone within a deadline; the stdin lifeline
(what non-Linux systems rely on) is tested on its own with the stand-in trainer; the lock
is held by another real process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from installation.cli import main
from installation.training.lifeline import LIFELINE_ENV, PARENT_ENV
from installation.training.lock import LOCK_FILE, FolderLocked, WriterLock
from tests.live._hotswap_util import HERE, save, script_env
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and /proc")


def alive(pid: int) -> bool:
    """Running or stopped, not gone and not a zombie waiting for its new parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return not sys.platform.startswith("linux") and _kill0(pid)
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _kill0(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def trainer_pid(lock: Path) -> int | None:
    """The trainer's pid, once it holds the training folder's lock."""
    try:
        text = lock.read_text()
    except OSError:
        return None
    return int(text.split()[1]) if text.startswith("pid ") else None


def test_a_killed_show_takes_its_trainer_with_it(tmp_path):
    save(tmp_path / "models" / "show", step=0, seed=100, name="show")
    show = {
        "model": {"path": "models/show", "device": "cpu"},
        "display": {"fps": 10, "fullscreen": False, "vsync": False, "size": [64, 64]},
        "training": {
            "enabled": True,
            "architecture": "mlp",
            "resolution": 28,
            "batch": 4,
            "steps": 100_000,
            "save_every": 1000,
            "out": "models/live",
            "device": "cpu",
            "extra_args": ["--synthetic-n", "16", "--width", "4", "--sample-every", "1000"],
        },
        "osc": {"enabled": False},
        "midi": {"enabled": False},
    }
    (tmp_path / "show.yaml").write_text(yaml.safe_dump(show))
    env = {**script_env(), "SDL_VIDEODRIVER": "dummy"}
    show_proc = subprocess.Popen(
        [sys.executable, "-m", "installation", "-q", "run", "show.yaml", "--headless"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = tmp_path / "models" / "live" / LOCK_FILE
    try:
        assert wait_for(lambda: trainer_pid(lock), 90), "the show's trainer never took its lock"
        pid = trainer_pid(lock)
        assert Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(
            show_proc.pid
        )
    finally:
        show_proc.send_signal(signal.SIGKILL)
        show_proc.wait()
    assert wait_for(lambda: not alive(pid), 10), f"the orphaned trainer {pid} lives on"
    # Its lock goes with it (once its last thread is gone): a new writer takes the folder.
    assert wait_for(lambda: takeable(lock.parent), 5), "the dead trainer's lock is still held"


def takeable(folder: Path) -> bool:
    try:
        with WriterLock(folder):
            return True
    except FolderLocked:
        return False


def test_a_trainer_whose_pipe_closes_stops_by_itself(tmp_path):
    """The lifeline every OS has: the parent's end of the child's stdin closes when the
    parent dies. (Here the test closes it; the pid it names is the test's own.)"""
    env = {**script_env(), PARENT_ENV: str(os.getpid()), LIFELINE_ENV: "stdin"}
    with subprocess.Popen(
        [sys.executable, str(HERE / "_fake_trainer.py"), str(tmp_path)],
        stdin=subprocess.PIPE,
        env=env,
        stderr=subprocess.PIPE,
    ) as child:
        try:
            assert wait_for(lambda: (tmp_path / "started-0").exists(), 20), (
                "the stand-in never started"
            )
            assert child.poll() is None
            child.stdin.close()
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
        assert "is gone" in child.stderr.read().decode()


HOLD = """
import sys, time
from installation.training.lock import WriterLock
lock = WriterLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_writer_is_refused_with_the_holder_named_and_a_dead_ones_lock_is_stale(
    tmp_path, caplog
):
    folder = tmp_path / "live"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)],
        env=script_env(),
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(FolderLocked) as refused:
                WriterLock(folder).acquire()
            assert f"pid {holder.pid}" in str(refused.value) and "another trainer" in str(
                refused.value
            )
            # The command line says it too, and exits 2 before it trains anything.
            code = main(
                [
                    "train",
                    "--arch",
                    "mlp",
                    "--dataset",
                    "synthetic:shapes",
                    "--synthetic-n",
                    "4",
                    "--out",
                    str(folder),
                    "--steps",
                    "1",
                    "--no-progress",
                ]
            )
            assert code == 2
            assert not (folder / "model.safetensors").exists()
        finally:
            holder.kill()
    # The dead holder's pid is still in the file; its lock is not (the kernel dropped it).
    assert f"pid {holder.pid}" in (folder / LOCK_FILE).read_text()
    with caplog.at_level("INFO", logger="installation.training.lock"), WriterLock(folder):
        assert f"pid {os.getpid()}" in (folder / LOCK_FILE).read_text()
    assert "stale lock" in caplog.text and "no longer running" in caplog.text
    assert (folder / LOCK_FILE).read_text() == ""  # released: names no holder
