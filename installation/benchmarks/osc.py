"""OSC figures, from the stats' timestamps of a real show with its real OSC server.

osc_to_photon_p50_ms, _p99_ms   from sending a UDP message to the present of the first frame
                                that applied it (the frame line's `inputs`), at a 60 fps cap
osc_tcp_slip_to_photon_p50_ms, _p99_ms   the same over TCP with SLIP framing (OSC 1.1)
osc_tcp_size_to_photon_p50_ms, _p99_ms   ... and with the size prefix (OSC 1.0, liblo's)
osc_frame_period_ms             the cap's frame period, for reading the two above
osc_gen_ms                      median generator time in that run (p50's other budget)
osc_flood_idle_p99_ms           p99 frame time (present to present) with no OSC traffic
osc_flood_ratio_2k              p99 frame time under 2,000 msg/s / idle, side by side
osc_flood_ratio_10k             the same under 10,000 msg/s (another process floods)
osc_flood_memory_growth_mb      resident memory after the floods minus before
"""

from __future__ import annotations

import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from installation.app import RunOptions, ShowRuntime
from installation.bench import (
    BenchContext,
    benchmark,
    input_to_photon_ms,
    percentile,
    phase_p99_frame_ms,
)
from installation.config.show import Show
from installation.control.osc.parse import encode_message, frame_for_tcp
from installation.control.osc.server import OscServer
from installation.stats import read_stats

FPS = 60.0
PHOTON_SECONDS = 10.0
FLOOD_ROUNDS = 3
FLOOD_SECONDS = 3.0

# Runs in its own process (a flood comes from another program), paced in 1 ms slices.
FLOOD = """
import socket, struct, sys, time
host, port, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
head = b"/norm/walk/speed\\x00\\x00\\x00\\x00,f\\x00\\x00"
packets = [head + struct.pack(">f", i / 1000) for i in range(1000)]
start = time.monotonic(); sent = 0
while (now := time.monotonic()) - start < seconds:
    due = int((now - start) * rate)
    while sent < due:
        sock.sendto(packets[sent % 1000], (host, port)); sent += 1
    time.sleep(0.001)
"""


def _runtime(ctx: BenchContext, stats: Path) -> ShowRuntime:
    # A free port, so the benchmark never fights a show that is already running.
    osc = ctx.show.osc.model_copy(
        update={"port": 0, "oscquery": ctx.show.osc.oscquery.model_copy(update={"enabled": False})}
    )
    show: Show = ctx.show.model_copy(update={"osc": osc})
    return ShowRuntime(show, RunOptions(headless=True, fps=FPS, stats=stats))


def _start(runtime: ShowRuntime):
    loop = runtime.build_loop()
    runtime.start_services()
    server = next(s for s in runtime.services if isinstance(s, OscServer))
    assert server.address is not None, server.error
    return loop, server


def _udp(port: int):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return lambda data: sock.sendto(data, ("127.0.0.1", port)), sock.close


def _tcp(framing: str):
    def connect(port: int):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return lambda data: sock.sendall(frame_for_tcp(data, framing)), sock.close

    return connect


def _photon(ctx: BenchContext, connect) -> tuple[list[float], list[dict]]:
    """Latencies (ms) from sends through `connect(port)` -> (send, close) to photons."""
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.jsonl"
        runtime = _runtime(ctx, stats)
        sends: list[float] = []
        try:
            loop, server = _start(runtime)
            loop.settings.max_seconds = PHOTON_SECONDS
            send, close = connect(server.address[1])

            def sender() -> None:
                rng = random.Random(0)
                time.sleep(1.0)  # let the loop settle
                while time.monotonic() - loop._started < PHOTON_SECONDS - 0.5:
                    # Random phase against the frame clock, spaced wider than a frame.
                    time.sleep(0.05 + rng.random() * 0.05)
                    data = encode_message("/norm/output/brightness", [rng.random()])
                    sends.append(time.monotonic())
                    send(data)

            thread = threading.Thread(target=sender, daemon=True)
            thread.start()
            try:
                loop.run()
                thread.join()
            finally:
                close()
        finally:
            runtime.close()
        frames, _ = read_stats(stats)
    latencies = input_to_photon_ms(frames, sends, lambda source: source.startswith("osc:"))
    if len(latencies) < 0.9 * len(sends):
        raise RuntimeError(f"only {len(latencies)} of {len(sends)} messages reached a frame")
    return latencies, frames


@benchmark("osc_to_photon_p50_ms", "osc_to_photon_p99_ms", "osc_frame_period_ms", "osc_gen_ms")
def osc_to_photon(ctx: BenchContext) -> dict[str, float]:
    latencies, frames = _photon(ctx, _udp)
    return {
        "osc_to_photon_p50_ms": statistics.median(latencies),
        "osc_to_photon_p99_ms": percentile(latencies, 0.99),
        "osc_frame_period_ms": 1000.0 / FPS,
        "osc_gen_ms": statistics.median(f["gen_ms"] for f in frames),
    }


@benchmark("osc_tcp_slip_to_photon_p50_ms", "osc_tcp_slip_to_photon_p99_ms")
def osc_tcp_slip_to_photon(ctx: BenchContext) -> dict[str, float]:
    latencies, _ = _photon(ctx, _tcp("slip"))
    return {
        "osc_tcp_slip_to_photon_p50_ms": statistics.median(latencies),
        "osc_tcp_slip_to_photon_p99_ms": percentile(latencies, 0.99),
    }


@benchmark("osc_tcp_size_to_photon_p50_ms", "osc_tcp_size_to_photon_p99_ms")
def osc_tcp_size_to_photon(ctx: BenchContext) -> dict[str, float]:
    """The same over TCP with OSC 1.0's size-prefix framing (liblo's osc.tcp:// default)."""
    latencies, _ = _photon(ctx, _tcp("size"))
    return {
        "osc_tcp_size_to_photon_p50_ms": statistics.median(latencies),
        "osc_tcp_size_to_photon_p99_ms": percentile(latencies, 0.99),
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


@benchmark(
    "osc_flood_idle_p99_ms",
    "osc_flood_ratio_2k",
    "osc_flood_ratio_10k",
    "osc_flood_memory_growth_mb",
)
def osc_flood(ctx: BenchContext) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.jsonl"
        runtime = _runtime(ctx, stats)
        phases: list[tuple[str, float, float]] = []
        try:
            loop, server = _start(runtime)
            port = server.address[1]
            loop.settings.max_seconds = 1.0
            loop.run()  # warm-up
            rss_before = _rss_mb()
            for _ in range(FLOOD_ROUNDS):
                for name, rate in (("idle", 0), ("2k", 2000), ("10k", 10000)):
                    flood = None
                    if rate:
                        flood = subprocess.Popen(
                            [
                                sys.executable,
                                "-c",
                                FLOOD,
                                "127.0.0.1",
                                str(port),
                                str(rate),
                                str(FLOOD_SECONDS + 0.5),
                            ]
                        )
                        time.sleep(0.3)  # the flood is under way before we measure
                    loop.settings.max_seconds = FLOOD_SECONDS
                    start = time.monotonic()
                    loop.run()
                    phases.append((name, start, time.monotonic()))
                    if flood is not None:
                        flood.wait(timeout=30)
            rss_after = _rss_mb()
            packets = server.receiver.counters["packets"]
        finally:
            runtime.close()
        frames, _ = read_stats(stats)
    if packets < FLOOD_ROUNDS * FLOOD_SECONDS * 12000 * 0.5:
        raise RuntimeError(f"the flood did not arrive ({packets} packets)")

    def p99(name: str) -> float:
        return phase_p99_frame_ms(frames, phases, name)

    idle = p99("idle")
    return {
        "osc_flood_idle_p99_ms": idle,
        "osc_flood_ratio_2k": p99("2k") / idle,
        "osc_flood_ratio_10k": p99("10k") / idle,
        "osc_flood_memory_growth_mb": rss_after - rss_before,
    }
