"""OSCQuery figures, from a real show with its real OSCQuery server on loopback.

oscquery_listen_lag_ms_p50, _p99   from the frame that changes a value (the loop handing it to
                                   feedback) to its push arriving at a websocket LISTEN client
oscquery_flood_idle_p99_ms         p99 frame time with no HTTP traffic
oscquery_flood_frame_ratio         p99 frame time under 1,500 GET/s (of the whole tree, from
                                   another process, keep-alive) / idle, side by side; <= 1.10
oscquery_flood_served_per_s        GETs answered per second during the flood (it did arrive)
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, benchmark, percentile, phase_p99_frame_ms
from installation.config.show import Show
from installation.control.osc.parse import parse_packet
from installation.control.osc.server import OscServer
from installation.events import ControlEvent
from installation.stats import read_stats

FPS = 60.0
LAG_SECONDS = 10.0
FLOOD_ROUNDS = 3
FLOOD_SECONDS = 3.0
FLOOD_RATE = 1500.0

# Runs in its own process: 4 keep-alive connections, each paced at a quarter of the rate.
FLOOD = """
import http.client, sys, threading, time
port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
def run():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    start = time.monotonic(); sent = 0
    while (now := time.monotonic()) - start < seconds:
        while sent < int((now - start) * rate / 4):
            conn.request("GET", "/"); conn.getresponse().read(); sent += 1
        time.sleep(0.001)
threads = [threading.Thread(target=run) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
"""


def _runtime(ctx: BenchContext, stats: Path | None) -> ShowRuntime:
    q = ctx.show.osc.oscquery.model_copy(update={"enabled": True, "port": 0, "zeroconf": False})
    osc = ctx.show.osc.model_copy(update={"port": 0, "oscquery": q, "feedback": []})
    show: Show = ctx.show.model_copy(update={"osc": osc})
    return ShowRuntime(show, RunOptions(headless=True, fps=FPS, stats=stats))


def _start(runtime: ShowRuntime):
    loop = runtime.build_loop()
    runtime.start_services()
    server = next(s for s in runtime.services if isinstance(s, OscServer))
    assert server.oscquery is not None, "OSCQuery did not start"
    return loop, server


class _Listener:
    """The smallest websocket client that LISTENs (RFC 6455: masked text out, frames in)."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"websocket refused: {head[:60]!r}")
        text = json.dumps({"COMMAND": "LISTEN", "DATA": path}).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
        self.sock.sendall(bytes([0x81, 0x80 | len(text)]) + mask + masked)

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def message(self) -> bytes:
        self._need(2)
        n, at = self.buf[1] & 0x7F, 2
        if n == 126:
            self._need(4)
            (n,), at = struct.unpack(">H", self.buf[2:4]), 4
        self._need(at + n)
        payload, self.buf = self.buf[at : at + n], self.buf[at + n :]
        return payload


@benchmark("oscquery_listen_lag_ms_p50", "oscquery_listen_lag_ms_p99")
def oscquery_listen_lag(ctx: BenchContext) -> dict[str, float]:
    runtime = _runtime(ctx, None)
    changed_at: dict[int, float] = {}
    arrived: dict[int, float] = {}
    try:
        loop, server = _start(runtime)

        def stamp(changed: dict[str, float], events: list) -> None:
            if "output.brightness" in changed:  # the frame that changes it hands it on now
                changed_at[round(changed["output.brightness"] * 1000)] = time.perf_counter()

        loop.hooks.feedback = (stamp, *loop.hooks.feedback)
        listener = _Listener(server.oscquery.port, "/output/brightness")

        def receive() -> None:
            try:
                while True:
                    data = listener.message()
                    now = time.perf_counter()
                    for group in parse_packet(data):
                        for m in group.messages:
                            arrived.setdefault(round(float(m.args[0]) * 1000), now)
            except OSError:
                return

        def change() -> None:
            rng = random.Random(0)
            time.sleep(1.0)
            i = 0
            while time.monotonic() - loop._started < LAG_SECONDS - 0.5:
                time.sleep(0.05 + rng.random() * 0.05)
                i = i % 900 + 1
                loop.hooks.events.put(ControlEvent("output.brightness", (i + 50) / 1000))

        threads = [
            threading.Thread(target=receive, daemon=True),
            threading.Thread(target=change, daemon=True),
        ]
        for t in threads:
            t.start()
        loop.settings.max_seconds = LAG_SECONDS
        loop.run()
        time.sleep(0.2)
        listener.sock.close()
    finally:
        runtime.close()
    lags = [
        (arrived[k] - t) * 1000 for k, t in changed_at.items() if k in arrived and arrived[k] >= t
    ]
    if len(lags) < 0.9 * len(changed_at) or not lags:
        raise RuntimeError(f"only {len(lags)} of {len(changed_at)} changes were pushed")
    return {
        "oscquery_listen_lag_ms_p50": statistics.median(lags),
        "oscquery_listen_lag_ms_p99": percentile(lags, 0.99),
    }


@benchmark(
    "oscquery_flood_idle_p99_ms", "oscquery_flood_frame_ratio", "oscquery_flood_served_per_s"
)
def oscquery_flood(ctx: BenchContext) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.jsonl"
        runtime = _runtime(ctx, stats)
        phases: list[tuple[str, float, float]] = []
        served = 0
        try:
            loop, server = _start(runtime)
            http = server.oscquery.http
            loop.settings.max_seconds = 1.0
            loop.run()  # warm-up
            for _ in range(FLOOD_ROUNDS):
                for name in ("idle", "flood"):
                    flood = None
                    if name == "flood":
                        flood = subprocess.Popen(
                            [
                                sys.executable,
                                "-c",
                                FLOOD,
                                str(server.oscquery.port),
                                str(FLOOD_RATE),
                                str(FLOOD_SECONDS + 0.5),
                            ]
                        )
                        time.sleep(0.3)  # the flood is under way before we measure
                    before = http.counters["requests"]
                    loop.settings.max_seconds = FLOOD_SECONDS
                    start = time.monotonic()
                    loop.run()
                    phases.append((name, start, time.monotonic()))
                    if flood is not None:
                        served += http.counters["requests"] - before
                        flood.wait(timeout=30)
        finally:
            runtime.close()
        frames, _ = read_stats(stats)
    rate = served / (FLOOD_ROUNDS * FLOOD_SECONDS)
    if rate < 0.8 * FLOOD_RATE:
        raise RuntimeError(f"the flood did not arrive ({rate:.0f} GET/s)")

    def p99(name: str) -> float:
        return phase_p99_frame_ms(frames, phases, name)

    idle = p99("idle")
    return {
        "oscquery_flood_idle_p99_ms": idle,
        "oscquery_flood_frame_ratio": p99("flood") / idle,
        "oscquery_flood_served_per_s": rate,
    }
