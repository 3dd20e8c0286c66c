"""The schedule gives the live trainer the machine outside show hours and takes it back when
the show opens. Real processes: the supervisor runs the stand-in trainer (tests/live), which
arms the real lifeline and reports the thread count the show asks for; the schedule's wall
clock is injected, so show hours are any time of day. The real trainer's side (the count
taken between steps) is tested with a real tiny training run."""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from installation.config.show import parse_show
from installation.kiosk.config import ScheduleConfig
from installation.kiosk.schedule import Schedule
from installation.live.supervisor import TrainerSupervisor
from installation.live.trainer import schedule_share
from installation.training import lifeline
from installation.training.trainer import run_training
from tests.live._hotswap_util import HERE, script_env
from tests.training.conftest import tiny_config
from tests.waiting import wait_for

from ._kiosk_util import playing, tick

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGSTOP duty cycle and /proc")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _asked(log: Path, n: int) -> bool:
    return log.exists() and f"asked for {n} thread(s)" in log.read_text()


def test_outside_show_hours_training_gets_the_machine_and_gives_it_back(
    show_dict, tmp_path
) -> None:
    show = parse_show({**show_dict, "training": {"threads": 1, "cpu_share": 0.5}})
    log = tmp_path / "train.log"
    sup = TrainerSupervisor(
        lambda: [sys.executable, str(HERE / "_fake_trainer.py"), str(tmp_path)],
        log_path=log,
        env=script_env(),
        cpu_share=show.training.cpu_share,
        threads=show.training.threads,
    )
    rt = playing(show)
    sup.start()
    try:
        loop = rt.loop
        clock = {"now": datetime(2026, 12, 1, 8, 0)}
        schedule = Schedule(
            ScheduleConfig(hours=[("10:00", "18:00")], training_threads=3),
            restart=False,
            wall=lambda: clock["now"],
            on_hours=[schedule_share(sup, show, 3)],
        )
        loop.hooks.tasks = (*loop.hooks.tasks, schedule.apply)
        assert wait_for(lambda: (tmp_path / "started-0").exists(), timeout=20.0)
        pid = sup.status.pid
        tick(loop, 2)  # 08:00: outside the hours
        assert wait_for(lambda: _asked(log, 3), timeout=10.0), "the child was not told"
        assert sup.cpu_share == 1.0 and sup.threads == 3
        assert (sup.status.threads, sup.status.cpu_share) == (3, 1.0)  # what /health shows
        assert wait_for(lambda: _state(pid) != "T", timeout=5.0)
        end = time.monotonic() + 1.0  # two duty periods: never stopped now
        while time.monotonic() < end:
            assert _state(pid) != "T"
            time.sleep(0.01)
        clock["now"] = datetime(2026, 12, 1, 10, 0, 30)  # the show opens
        tick(loop, 2)
        assert wait_for(lambda: _asked(log, 1), timeout=10.0)
        assert sup.cpu_share == 0.5 and sup.threads == 1
        assert wait_for(lambda: _state(pid) == "T", timeout=5.0)  # duty-cycled again
        assert sup.starts == 1 and os.getpriority(os.PRIO_PROCESS, pid) == 19  # nice kept
    finally:
        sup.stop()
        rt.close()


def test_the_trainer_takes_the_thread_count_between_steps(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    read, write = os.pipe()
    os.write(write, b"hello\nthreads 2\n")  # what the supervisor writes; noise is ignored
    os.close(write)
    lifeline.read_requests(read)
    os.close(read)
    result = run_training(tiny_config(tmp_path / "run", steps=2), progress=False)
    assert result.step == 2
    assert any("training on 2 CPU thread(s) now" in r.getMessage() for r in caplog.records)
    assert lifeline.take_threads() is None  # taken once
