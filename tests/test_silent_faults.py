"""Faults that used to pass silently now each get a log line, a stats event and, where an
operator needs it, a HUD line (issue 16, item 7). Real files, sockets, processes, libjack."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import sys
import time

import pytest
import yaml

from installation.cli import main
from installation.config.show import parse_show
from installation.control.midi.jack import route_libjack_messages
from installation.control.osc.server import build_osc_server
from installation.events import EventQueue
from installation.live.showfile import ShowFileWatch
from installation.live.supervisor import TrainerSupervisor
from installation.params import REGISTRY
from installation.stats import StatsWriter, read_stats
from tests.live._hotswap_util import HERE, script_env
from tests.live.test_live import Show
from tests.waiting import wait_for

from .conftest import make_model


def events(path, name):
    return [e for e in read_stats(path)[1] if e["event"] == name] if path.exists() else []


def test_the_playing_models_folder_deleted_and_restored(tmp_path):
    show = Show(tmp_path)
    try:
        folder = tmp_path / "models" / "show"
        shutil.move(folder, tmp_path / "aside")
        show.run_until(lambda: show.events("model_folder_missing"))
        assert show.events("model_folder_missing")[0]["folder"] == str(folder)
        assert any(line.startswith("model folder deleted") for line in show.service.hud_lines())
        show.frames(3)  # plays on from memory
        assert show.events("render_error") == []
        shutil.move(tmp_path / "aside", folder)
        show.run_until(lambda: show.events("model_folder_restored"))
        assert not any(line.startswith("model folder deleted") for line in show.service.hud_lines())
        assert len(show.events("model_folder_missing")) == 1  # said once, not every poll
    finally:
        show.close()


def test_a_show_file_broken_while_playing_is_reported_and_a_fix_too(tmp_path, caplog):
    path = tmp_path / "show.yaml"
    path.write_text("display:\n  fps: 30\n")
    stats_path = tmp_path / "stats.jsonl"
    stats = StatsWriter(stats_path)
    watch = ShowFileWatch(path, stats, poll_s=0.05)
    watch.start()
    try:
        path.write_text("display:\n  fps: 30\n  fsp: 20\n")
        assert wait_for(lambda: events(stats_path, "show_file_invalid"), 20), "show_file_invalid"
        assert "display.fsp: unknown key" in events(stats_path, "show_file_invalid")[0]["error"]
        assert (
            watch.hud_lines()[0].startswith("show file invalid:") and "fsp" in watch.hud_lines()[0]
        )
        assert "no longer valid" in caplog.text
        path.write_text("display:\n  fps: 25\n")
        assert wait_for(lambda: events(stats_path, "show_file_changed"), 20), "show_file_changed"
        assert watch.hud_lines() == ("show file changed: restart to apply",)
    finally:
        watch.stop()
        stats.close()


@pytest.mark.skipif(os.name != "posix", reason="SIGSTOP")
def test_a_stopped_trainer_making_no_progress_is_noticed_and_restarted(tmp_path):
    seen = []
    sup = TrainerSupervisor(
        lambda: [sys.executable, str(HERE / "_fake_trainer.py"), str(tmp_path)],
        log_path=tmp_path / "train.log",
        env=script_env(),
        backoff_initial_s=0.1,
        stall_intervals=3,
        min_stall_s=0.5,
        on_event=lambda name, **f: seen.append((name, f)),
    )
    sup.start()
    try:
        assert wait_for(lambda: (tmp_path / "started-0").exists(), 20), "the stand-in to start"
        sup.note_progress(100)
        time.sleep(0.1)  # one save interval of 0.1 s: the stall limit is max(0.5, 3 x 0.1)
        sup.note_progress(200)
        os.kill(sup.status.pid, signal.SIGSTOP)  # somebody stops it; it makes no progress
        assert wait_for(lambda: sup.starts == 2 and sup.status.state == "running", 20), "a restart"
        (stalled,) = [f for name, f in seen if name == "trainer_stalled"]
        assert stalled["step"] == 200 and stalled["seconds"] >= 0.5
        (exit_event,) = [f for name, f in seen if name == "trainer_exit"]
        assert "no progress" in exit_event["reason"]
    finally:
        sup.stop()


def test_seconds_ends_the_show_on_time_even_at_a_very_low_frame_rate(tmp_path):
    make_model(tmp_path / "models" / "m")
    show = {
        "model": {"path": "models/m", "device": "cpu"},
        "display": {"fps": 0.01, "size": [64, 64]},
        "osc": {"enabled": False},
        "midi": {"enabled": False},
        "hotswap": {"enabled": False},
    }
    (tmp_path / "show.yaml").write_text(yaml.safe_dump(show))
    started = time.monotonic()
    assert main(["-q", "run", str(tmp_path / "show.yaml"), "--headless", "--seconds", "1"]) == 0
    assert time.monotonic() - started < 15  # one frame every 100 s: it used to wait for the next


def test_an_unbindable_osc_host_says_to_change_the_host(tmp_path):
    show = parse_show({"osc": {"host": "192.0.2.55", "port": 0, "oscquery": {"enabled": False}}})
    server = build_osc_server(show, REGISTRY, StatsWriter(None), EventQueue())
    server.start()
    try:
        assert server.address is None
        assert "set osc.host" in server.error and "set osc.port" not in server.error
    finally:
        server.stop()


@pytest.mark.skipif(not ctypes.util.find_library("jack"), reason="libjack is not installed")
def test_libjacks_own_messages_go_through_logging(capfd, caplog, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "installation-test-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    assert route_libjack_messages()
    lib = ctypes.CDLL(ctypes.util.find_library("jack"))
    lib.jack_client_open.restype = ctypes.c_void_p
    status = ctypes.c_int(0)
    with caplog.at_level(logging.DEBUG, logger="installation.control.midi.jack"):
        client = lib.jack_client_open(
            b"installation-test", 1, ctypes.byref(status)
        )  # JackNoStartServer
    assert not client
    assert "libjack:" in caplog.text
    assert "Cannot connect" not in capfd.readouterr().err  # nothing raw on stderr
