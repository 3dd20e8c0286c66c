"""Helpers for running a real `installation run --kiosk` in a subprocess and watching it
from outside, the way a technician would: its health endpoint and its state folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def playing(show, **opts):
    """A ShowRuntime on a fixed-step clock at 30 fps with its loop built and services started."""
    from installation.app import RunOptions, ShowRuntime

    rt = ShowRuntime(show, RunOptions(headless=True, fixed_step=True, fps=30, **opts))
    rt.build_loop()
    rt.start_services()
    return rt


def tick(loop, n: int = 1) -> None:
    """`n` frames of a loop driven by hand: move the virtual clock a frame, then step."""
    for _ in range(n):
        loop.clock.sleep_until(loop.clock.now() + 1 / 30)
        loop.step()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def osc_float(address: str, value: float) -> bytes:
    """One OSC message with a float argument (padded strings, big-endian float32)."""

    def pad(b: bytes) -> bytes:
        return b + b"\0" * (4 - len(b) % 4)

    return pad(address.encode()) + pad(b",f") + struct.pack(">f", value)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def get(port: int, path: str, token: str | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def health(port: int) -> dict | None:
    try:
        status, body = get(port, "/health", timeout=1.0)
    except OSError:
        return None
    return json.loads(body) if status == 200 else None


def kiosk_show(
    folder: Path,
    model: Path,
    *,
    health_port: int,
    osc_port: int | None = None,
    kiosk: dict | None = None,
) -> Path:
    show = {
        "display": {"size": [160, 90], "fullscreen": False, "fps": 30, "vsync": False},
        "model": {"path": str(model), "device": "cpu"},
        "osc": {
            "enabled": osc_port is not None,
            "port": osc_port or 9000,
            "oscquery": {"enabled": False},
        },
        "midi": {"enabled": False},
        "hotswap": {"enabled": False},
        "kiosk": {
            "save_every_s": 0.3,
            "health": {"enabled": True, "port": health_port},
            **(kiosk or {}),
        },
    }
    path = folder / "show.yaml"
    path.write_text(yaml.safe_dump(show), encoding="utf-8")
    return path


def start_kiosk(
    show: Path, *extra: str, env: dict | None = None, headless: bool = True
) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SDL_VIDEODRIVER": "dummy", **(env or {})}
    extra = ("--headless", *extra) if headless else ("--windowed", *extra)
    log = open(show.parent / "supervisor.log", "wb")  # a file: a pipe nobody reads would fill up
    with log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "installation",
                "run",
                str(show),
                "--kiosk",
                *extra,
            ],
            cwd=show.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def supervisor_status(show: Path) -> dict:
    try:
        return json.loads((show.parent / ".kiosk" / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {}


def stop_kiosk(proc: subprocess.Popen) -> str:
    """SIGTERM the supervisor, wait, and return its log (for assertion messages)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return (Path(proc.args[4]).parent / "supervisor.log").read_text(errors="replace")
