"""Broken show files, each refused by `installation run` before anything opens: exit 2, one
clear message naming the line or key, no traceback (issue 16: 17 kinds were fed to the show;
the two that passed silently, duplicate keys and an unbounded display.size, are refused now)."""

from __future__ import annotations

from pathlib import Path

import pytest

from installation.cli import main

BAD_SHOWS = [
    ("display:\n  fullscren: true\n", ["display.fullscren: unknown key", "fullscreen"]),
    ("dispaly:\n  fps: 30\n", ["dispaly: unknown key", "display"]),
    ("display:\n  fps: 30\n  hud: true\n  fps: 60\n", ["line 4", "display.fps", "first on line 2"]),
    ("osc:\n  port: 9000\nosc:\n  port: 9001\n", ["line 3", "osc: given twice", "first on line 1"]),
    ("display:\n  size: [100000, 100000]\n", ["display.size", "16384"]),
    ("display:\n  size: [1920]\n", ["display.size"]),
    ("display:\n  size: [0, 1080]\n", ["display.size.0"]),
    ("display:\n  fps: -5\n", ["display.fps"]),
    ("display:\n  fps: fast\n", ["display.fps"]),
    ("display:\n  fit: zoom\n", ["display.fit"]),
    ("display: [1, 2]\n", ["display"]),
    ("- just\n- a list\n", ["top level must be a mapping"]),
    ("display:\n\tfps: 30\n", ["not valid YAML"]),
    ("display: {fps: 30\n", ["not valid YAML"]),
    ("model:\n  path: models/nope\n", ["models/nope does not exist"]),
    ("osc:\n  port: 70000\n", ["osc.port"]),
    ("parameters:\n  walk.sped: {default: 1}\n", ["walk.sped"]),
    ("scenes:\n  calm: {walk.sped: 0.1}\n", ["walk.sped"]),
    ("base_dir: /etc\n", ["base_dir: unknown key"]),
]


@pytest.mark.parametrize(
    "text, words", BAD_SHOWS, ids=[f"bad{i:02d}" for i in range(len(BAD_SHOWS))]
)
def test_a_broken_show_is_refused_with_a_clear_message(
    tmp_path: Path, capsys, text: str, words: list[str]
):
    path = tmp_path / "show.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", str(path), "--headless", "--frames", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("installation: error:") and "Traceback" not in err
    for word in words:
        assert word in err, err


def test_a_show_that_is_not_text_is_refused(tmp_path: Path, capsys):
    path = tmp_path / "show.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage\x80")
    assert main(["run", str(path), "--headless", "--frames", "1"]) == 2
    assert "cannot read it" in capsys.readouterr().err
