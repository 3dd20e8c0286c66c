"""Kiosk figures: the show under `run --kiosk`, measured from outside like a technician would.

kiosk_restart_s        SIGKILL of the show to its first frame back under the supervisor
                       (the median of 3 kills, a warm standby ready each time)
health_response_p99_ms /health answered over loopback while the show plays (200 requests)
soak_memory_growth_mb  resident memory of the show process, end minus end of warm-up
soak_thread_growth     its thread count, end minus end of warm-up
soak_fd_growth         its open file descriptors, end minus end of warm-up
soak_frame_p99_ratio   frame p99 of the last minute over the first minute after warm-up
soak_crashes           restarts the supervisor had to make during the soak

The soak plays the bench's show (headless, its model, size and fps) with the trainer on,
OSC at 100 msg/s with 5% malformed packets, and a corrupt checkpoint dropped into a watched
folder every 30 s; the trainer's own checkpoints are swapped in as they come. It runs
`--soak-minutes` (default 3: one of warm-up; a long run warms up for 5). Per-minute frame
p50/p99 and the accepted/rejected input counts are logged. MIDI traffic is not part of it
(it would need a JACK server; tests/control/midi covers unplug cycles).
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from installation.bench import BenchContext, Skipped, benchmark, percentile
from installation.config.show import Show
from installation.stats import read_stats

log = logging.getLogger(__name__)

DEFAULT_MINUTES = 3.0


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc(pid: int) -> dict[str, float]:
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

    def __init__(self, show: Show, folder: Path, *, training: bool, soak_inputs: bool) -> None:
        self.folder = folder
        self.health_port = _free_port()
        self.osc_port = _free_port(socket.SOCK_DGRAM)
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


def _require_proc() -> None:
    if not os.path.isdir("/proc/self/fd"):
        raise Skipped("the soak reads /proc (Linux)")


@benchmark("kiosk_restart_s", "health_response_p99_ms")
def kiosk_restart(ctx: BenchContext) -> dict[str, float]:
    _require_proc()
    with tempfile.TemporaryDirectory(prefix="installation-kiosk-") as tmp:
        run = KioskRun(ctx.show, Path(tmp), training=False, soak_inputs=False)
        run.start()
        try:
            run.up()
            answers = []
            for _ in range(200):  # while the show plays at its fps cap
                start = time.perf_counter()
                if run.health() is None:
                    raise RuntimeError("/health did not answer")
                answers.append((time.perf_counter() - start) * 1000)
            times = [run.kill_and_time() for _ in range(3)]
        finally:
            run.stop()
    log.info(
        "kiosk restarts: %s s; /health p50 %.1f ms",
        ", ".join(f"{t:.2f}" for t in times),
        percentile(answers, 0.5),
    )
    return {
        "kiosk_restart_s": statistics.median(times),
        "health_response_p99_ms": percentile(answers, 0.99),
    }


class Traffic:
    """OSC at `rate` msg/s, `bad` of them malformed; a corrupt checkpoint every 30 s."""

    def __init__(self, port: int, drop: Path, rate: float = 100, bad: float = 0.05) -> None:
        self.port, self.drop, self.rate, self.bad = port, drop, rate, bad
        self.sent = self.malformed = self.corrupt = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        rng = random.Random(0)
        next_drop = time.monotonic() + 30
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not self._stop.wait(1 / self.rate):
                if rng.random() < self.bad:
                    packet, self.malformed = rng.randbytes(rng.randint(1, 64)), self.malformed + 1
                else:
                    value = 0.1 + 0.4 * rng.random()
                    packet = b"/walk/speed\0,f\0\0" + struct.pack(">f", value)
                sock.sendto(packet, ("127.0.0.1", self.port))
                self.sent += 1
                if time.monotonic() >= next_drop:
                    next_drop += 30
                    self._drop_corrupt()

    def _drop_corrupt(self) -> None:
        self.corrupt += 1
        folder = self.drop / f"corrupt-{self.corrupt}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(os.urandom(4096))
        (folder / "card.json").write_text(
            json.dumps({"name": "corrupt", "architecture": "dcgan", "step": self.corrupt})
        )


def _minutes(frames: list[dict], since: float) -> list[tuple[float, float]]:
    """(p50, p99) of frame_ms for each whole minute of frames after `since` (loop time)."""
    buckets: dict[int, list[float]] = {}
    for f in frames:
        if f["t"] >= since and f["frame_ms"] > 0:
            buckets.setdefault(int((f["t"] - since) // 60), []).append(f["frame_ms"])
    return [
        (percentile(v, 0.5), percentile(v, 0.99)) for _, v in sorted(buckets.items()) if len(v) > 10
    ]


@benchmark(
    "soak_memory_growth_mb",
    "soak_thread_growth",
    "soak_fd_growth",
    "soak_frame_p99_ratio",
    "soak_crashes",
)
def soak(ctx: BenchContext) -> dict[str, float]:
    _require_proc()
    minutes = getattr(ctx, "soak_minutes", None) or DEFAULT_MINUTES
    warmup_s = min(300.0, minutes * 60 / 3)
    with tempfile.TemporaryDirectory(prefix="installation-soak-") as tmp:
        run = KioskRun(ctx.show, Path(tmp), training=True, soak_inputs=True)
        run.start()
        traffic = Traffic(run.osc_port, run.drop)
        try:
            first = run.up()
            pid = first["pid"]
            traffic.start()
            started = time.monotonic()
            samples: list[tuple[float, dict[str, float]]] = []
            while (elapsed := time.monotonic() - started) < minutes * 60:
                if run.proc.poll() is not None:
                    raise RuntimeError(f"the supervisor ended ({run.proc.returncode})")
                health = run.health()
                if health and health["pid"] == pid:
                    samples.append((elapsed, _proc(pid)))
                time.sleep(2.0)
            end_health = run.health() or {}
            crashes = run.supervisor().get("restarts", 0)
        finally:
            traffic.stop()
            run.stop()
        frames, events = read_stats(run.stats) if run.stats.exists() else ([], [])
    after = [s for t, s in samples if t >= warmup_s]
    if len(after) < 4:
        raise RuntimeError("too few samples after the warm-up (the show restarted?)")
    head, tail = after[:3], after[-3:]

    def growth(key: str) -> float:
        return statistics.median(s[key] for s in tail) - statistics.median(s[key] for s in head)

    since = (frames[0]["t"] + warmup_s) if frames else 0.0
    per_minute = _minutes(frames, since)
    for i, (p50, p99) in enumerate(per_minute):
        log.info("soak minute %d: frame p50 %.1f ms, p99 %.1f ms", i + 1, p50, p99)
    rejects = sum(1 for e in events if e["event"] == "reject")
    swaps = sum(1 for e in events if e["event"] == "swap")
    log.info(
        "soak inputs: OSC sent %d (%d malformed), show counted %s; corrupt checkpoints %d, "
        "rejected %d; swaps %d",
        traffic.sent,
        traffic.malformed,
        end_health.get("inputs"),
        traffic.corrupt,
        rejects,
        swaps,
    )
    hours = max(1e-9, (len(after) - 1) * 2.0 / 3600)
    log.info(
        "soak memory: %+.1f MB after warm-up (%+.1f MB/h)",
        growth("rss_mb"),
        growth("rss_mb") / hours,
    )
    ratio = per_minute[-1][1] / per_minute[0][1] if len(per_minute) >= 2 else 1.0
    return {
        "soak_memory_growth_mb": growth("rss_mb"),
        "soak_thread_growth": growth("threads"),
        "soak_fd_growth": growth("fds"),
        "soak_frame_p99_ratio": ratio,
        "soak_crashes": float(crashes),
    }
