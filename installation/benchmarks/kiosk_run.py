"""A real `installation run --kiosk` on a temporary copy of a show, watched from outside
like a technician would (its health endpoint, its state folder, /proc): the kiosk benchmarks'
harness (benchmarks/soak.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from installation.bench import Skipped
from installation.config.show import Show


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_figures(pid: int) -> dict[str, float]:
    """RSS (MB), threads and open fds of a process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                fields[key] = float(value.split()[0])
    return {
        "rss_mb": fields["VmRSS"] / 1024,
        "threads": fields["Threads"],
        "fds": float(len(os.listdir(f"/proc/{pid}/fd"))),
    }


class KioskRun:
    """A real `installation run --kiosk` on a temporary copy of a show."""

    def __init__(
        self,
        show: Show,
        folder: Path,
        *,
        training: bool,
        soak_inputs: bool,
        midi_port: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`midi_port`: a JACK port (on the server $JACK_DEFAULT_SERVER of `env`) whose CC 7
        steers output.brightness; `env`: added to the supervisor's (and so the show's)."""
        self.folder = folder
        self.env = {**os.environ, **(env or {})}
        self.health_port = free_port()
        self.osc_port = free_port(socket.SOCK_DGRAM)
        self.drop = folder / "drop"
        self.drop.mkdir()
        data = show.model_dump(mode="json", exclude={"base_dir"})
        data["model"]["path"] = str(show.resolve(show.model.path).resolve())
        data["display"].update(fullscreen=False, screenshots=str(folder / "shots"))
        data["osc"] = {
            "enabled": soak_inputs,
            "port": self.osc_port,
            "oscquery": {"enabled": False},
        }
        data["midi"] = {"enabled": False}
        if midi_port is not None:
            data["midi"] = {
                "enabled": True,
                "api": "jack",
                "poll_s": 0.2,
                "devices": [{"port": midi_port, "profile": "none"}],
                "mappings": [{"cc": 7, "target": "output.brightness", "takeover": "none"}],
            }
        data["hotswap"] = {**data["hotswap"], "enabled": True, "watch": [str(self.drop)]}
        data["training"] = {
            **data["training"],
            "enabled": training,
            "out": str(folder / "live"),
            "save_every": 50,
            "dataset": "synthetic:shapes",
        }
        data["scenes"] = {}
        data["kiosk"] = {
            **data["kiosk"],
            "state_dir": str(folder / "state"),
            "health": {"enabled": True, "port": self.health_port},
            "log": {"file": str(folder / "installation.log")},
        }
        self.show_path = folder / "show.yaml"
        self.show_path.write_text(yaml.safe_dump(data), encoding="utf-8")
        self.stats = folder / "stats.jsonl"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.folder / "supervisor.log", "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "installation",
                "run",
                str(self.show_path),
                "--kiosk",
                "--headless",
                "--stats",
                str(self.stats),
            ],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}/health", timeout=1
            ) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def supervisor(self) -> dict:
        try:
            return json.loads((self.folder / "state" / "supervisor.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"the kiosk ended ({self.proc.returncode}) waiting for {what}; "
                    f"see {self.folder / 'supervisor.log'}"
                )
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")

    def up(self, timeout: float = 300) -> dict:
        return self.wait(
            lambda: (h := self.health()) and h.get("frame") and h, timeout, "the first frame"
        )

    def kill_and_time(self) -> float:
        """SIGKILL the show; seconds to the first frame back (a warm standby ready first)."""
        self.wait(lambda: self.supervisor().get("standby_ready"), 300, "a warm standby")
        pid = self.up()["pid"]
        start = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.wait(
            lambda: (h := self.health()) and h["pid"] != pid and h.get("frame"), 60, "the show back"
        )
        return time.monotonic() - start

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def require_proc() -> None:
    if not os.path.isdir("/proc/self/fd"):
        raise Skipped("the soak reads /proc (Linux)")
