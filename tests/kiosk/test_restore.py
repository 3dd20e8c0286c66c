"""What a restarted show plays at each fallback level, and the still frame (in process,
with a real pygame dummy display)."""

from __future__ import annotations

import json
import resource
import signal
import socket
from pathlib import Path

import pytest
import yaml

from installation.config.base import ShowError
from installation.kiosk.heartbeat import HEARTBEAT_FD_ENV
from installation.kiosk.restore import KioskSpec, prepare
from installation.kiosk.state import ShowState, StateSaver, read_state
from installation.kiosk.still import show_still, still_lines
from installation.render.display import DisplaySettings


def _write(tmp_path: Path, show: dict) -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(yaml.safe_dump(show), encoding="utf-8")
    return path


def test_level_0_restores_the_saved_model_targets_and_phase(
    tmp_path: Path, show_dict: dict
) -> None:
    path = _write(tmp_path, show_dict)
    saver = StateSaver(tmp_path / ".kiosk", every_s=60)
    saver.offer(
        ShowState(
            model="/somewhere/else", last_good="/good", targets={"walk.speed": 1.25}, phase=3.5
        )
    )
    saver.save_now()
    show, restored = prepare(path, KioskSpec(level=0))
    assert show is not None and show.osc.enabled is False
    assert restored.model_path == Path("/somewhere/else") and restored.targets == {
        "walk.speed": 1.25
    }
    assert restored.phase == 3.5
    _, at_1 = prepare(path, KioskSpec(level=1))
    assert at_1.model_path == Path("/good")


def test_level_2_is_the_default_show_on_the_users_display(tmp_path: Path, show_dict: dict) -> None:
    path = _write(tmp_path, {**show_dict, "osc": {"enabled": True}, "training": {"enabled": True}})
    show, restored = prepare(path, KioskSpec(level=2))
    assert show is not None and restored.model_path is None
    assert show.display.size == (160, 90)
    assert not (
        show.osc.enabled or show.midi.enabled or show.training.enabled or show.hotswap.enabled
    )
    assert show.resolve(show.model.path) == tmp_path / "models/default-flow"
    path.write_text("display: {size: nonsense}\n", encoding="utf-8")
    show, _ = prepare(path, KioskSpec(level=2))  # an unreadable file still gets the default show
    assert show is not None and show.display.size == (1920, 1080)
    with pytest.raises(ShowError):
        prepare(path, KioskSpec(level=0))  # below level 2 a bad file is the child's user error


def test_level_3_is_the_still_frame(tmp_path: Path, show_dict: dict) -> None:
    show, _ = prepare(_write(tmp_path, show_dict), KioskSpec(level=3, error="boom"))
    assert show is None


def test_a_corrupt_state_file_is_ignored_and_a_full_disk_keeps_the_old_one(tmp_path: Path) -> None:
    folder = tmp_path / ".kiosk"
    folder.mkdir()
    (folder / "state.json").write_text("{not json")
    assert read_state(folder) is None
    saver = StateSaver(folder, every_s=60)
    saver.offer(ShowState(targets={"walk.speed": 0.5}))
    saver.save_now()
    # A real write that fails as on a full disk: RLIMIT_FSIZE caps any file this process
    # writes (EFBIG instead of ENOSPC, with SIGXFSZ ignored), and only for these lines.
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))
    try:
        saver.offer(ShowState(targets={"walk.speed": 1.0, "latent.truncation": 0.5}))
        saver.save_now()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert saver.failures == 1 and saver.saves == 1
    assert [p.name for p in folder.iterdir()] == ["state.json"]  # no temp file left behind
    assert read_state(folder).targets == {"walk.speed": 0.5}


def test_the_still_frame_shows_the_error_and_beats(monkeypatch) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    monkeypatch.setenv(HEARTBEAT_FD_ENV, str(theirs.detach()))
    spec = KioskSpec(level=3, error="model: models/x: no such folder", restarts=7)
    assert "model: models/x: no such folder" in still_lines(spec)
    assert show_still(spec, DisplaySettings(size=(320, 180), headless=True), seconds=0.6) == 0
    ours.settimeout(2)
    beat = json.loads(ours.recv(4096))
    assert beat["frame"] == 1
    ours.close()
