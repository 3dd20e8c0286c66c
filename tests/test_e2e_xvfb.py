"""End to end: `installation run` opens a real X11 window under Xvfb; we read its pixels
back from the X server (not from pygame) and compare them with the frame the show wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pygame
import pytest
import yaml

pytestmark = pytest.mark.e2e

XVFB = shutil.which("Xvfb")


@pytest.fixture
def xserver():
    if XVFB is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is missing on CI: .ci/run must install the xvfb package")
        pytest.skip("Xvfb is not installed (Debian package xvfb)")
    number = 90 + os.getpid() % 500
    proc = subprocess.Popen(
        [XVFB, f":{number}", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sock = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not sock.exists():
        proc.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def grab(display: str, width: int, height: int) -> np.ndarray:
    """The top-left width x height of the X screen as an RGB array [h, w, 3]."""
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        raw = d.screen().root.get_image(0, 0, width, height, X.ZPixmap, 0xFFFFFFFF).data
    finally:
        d.close()
    pixels = np.frombuffer(raw, np.uint8).reshape(height, width, 4)  # BGRX on little-endian
    return pixels[..., [2, 1, 0]]


def test_window_under_xvfb_shows_the_rendered_frame(
    xserver: str, show_dict: dict, tmp_path: Path
) -> None:
    pytest.importorskip("Xlib", reason="python-xlib reads the X server's pixels (test extra)")
    show_dict["display"].update(size=[320, 240], fps=20)
    show_dict["navigator"]["speed"] = 0.0  # a still picture, so any frame can be compared
    show_path = tmp_path / "show.yaml"
    show_path.write_text(yaml.safe_dump(show_dict))
    out, stats = tmp_path / "frames", tmp_path / "stats.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    env.update(DISPLAY=xserver, SDL_VIDEO_WINDOW_POS="0,0")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "installation",
            "run",
            str(show_path),
            "--windowed",
            "--seconds",
            "8",
            "--out",
            str(out),
            "--stats",
            str(stats),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while (
            not out.exists() or len(list(out.glob("*.png"))) < 10
        ) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        screen = grab(xserver, 320, 240)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err  # SIGTERM ends the show cleanly
    frame = pygame.surfarray.array3d(
        pygame.image.load(str(sorted(out.glob("*.png"))[-1]))
    ).transpose(1, 0, 2)
    assert frame.shape == screen.shape == (240, 320, 3)
    assert screen.std() > 5, "the window shows a flat colour, not the generated image"
    assert np.abs(screen.astype(int) - frame.astype(int)).mean() < 2.0
