"""`installation kiosk install-unit`: the unit it prints and writes, checked by systemd's own
`systemd-analyze verify` where it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from installation.cli import main


def test_install_unit_prints_a_unit_with_restart_always_and_a_watchdog(
    tmp_path: Path, capsys
) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("{}\n")
    assert main(["kiosk", "install-unit", str(show), "--watchdog", "20"]) == 0
    text = capsys.readouterr().out
    for line in (
        "Type=notify",
        "Restart=always",
        "WatchdogSec=20",
        f"WorkingDirectory={tmp_path}",
        f"-m installation run {show} --kiosk",
    ):
        assert line in text


def test_install_unit_writes_a_unit_systemd_accepts(tmp_path: Path, capsys) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("{}\n")
    unit = tmp_path / "installation.service"
    assert main(["kiosk", "install-unit", str(show), "--write", str(unit)]) == 0
    assert "daemon-reload" in capsys.readouterr().out
    assert "Restart=always" in unit.read_text()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
