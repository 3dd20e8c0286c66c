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
OSC at 100 msg/s with 5% malformed packets, a corrupt checkpoint dropped into a watched
folder every 30 s, and MIDI (soak_inputs.py): a virtual controller on a JACK server of its
own sends CC at 20 msg/s with 2% garbage bytes, is unplugged and plugged back every minute,
and the server is SIGKILLed and restarted once, halfway through the measured part (without
jackd the MIDI part is skipped, with the reason in the log, and the rest runs). The
trainer's own checkpoints are swapped in as they come. It runs `--soak-minutes` (default 3:
one of warm-up; a long run warms up for 5). Logged: per-minute frame p50/p99 and RSS, the
accepted/rejected input counts, and where the memory went (soak_memory.py, through the probe
in the show, kiosk/memprobe.py): glibc's heap in use and free, what malloc_trim gives back at
the end, and with INSTALLATION_SOAK_TRACE=N (tracemalloc, N frames: slower, a diagnosis run)
Python's share against the native share and the allocation sites that grew.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path

from installation.bench import BenchContext, benchmark, percentile
from installation.benchmarks.kiosk_run import KioskRun, proc_figures, require_proc
from installation.benchmarks.soak_inputs import MidiTraffic, OscTraffic
from installation.benchmarks.soak_memory import (
    ProbeClient,
    split_report,
    top_report,
    trace_frames,
    trim_report,
)
from installation.control.midi import jack
from installation.stats import read_stats

log = logging.getLogger(__name__)

DEFAULT_MINUTES = 3.0
SAMPLE_S = 2.0


@benchmark("kiosk_restart_s", "health_response_p99_ms")
def kiosk_restart(ctx: BenchContext) -> dict[str, float]:
    require_proc()
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


def _minutes(frames: list[dict], since: float) -> list[tuple[float, float]]:
    """(p50, p99) of frame_ms for each whole minute of frames after `since` (loop time)."""
    buckets: dict[int, list[float]] = {}
    for f in frames:
        if f["t"] >= since and f["frame_ms"] > 0:
            buckets.setdefault(int((f["t"] - since) // 60), []).append(f["frame_ms"])
    return [
        (percentile(v, 0.5), percentile(v, 0.99)) for _, v in sorted(buckets.items()) if len(v) > 10
    ]


def _slope_per_hour(samples: list[tuple[float, dict[str, float]]], key: str) -> float:
    """Least-squares growth rate of `key` over the samples, per hour."""
    if len(samples) < 2:
        return 0.0
    fit = statistics.linear_regression([t for t, _ in samples], [s[key] for _, s in samples])
    return 3600 * fit.slope


class _Soak:
    """One soak run: the kiosk, its inputs, and what was sampled while it played."""

    def __init__(self, ctx: BenchContext, folder: Path, minutes: float) -> None:
        self.seconds = minutes * 60
        self.warmup_s = min(300.0, self.seconds / 3)
        self.midi_skipped = jack.virtual_ports_unavailable()
        self.midi = None
        if self.midi_skipped is None:
            kill_at = (self.warmup_s + self.seconds) / 2  # halfway through the measured part
            self.midi = MidiTraffic(kill_at_s=kill_at)
        else:
            log.warning("soak: no MIDI traffic (%s)", self.midi_skipped)
        self.probe = ProbeClient(folder / "probe")
        env = {**self.probe.env, **(self.midi.env if self.midi else {})}
        self.run = KioskRun(
            ctx.show,
            folder,
            training=True,
            soak_inputs=True,
            midi_port=self.midi.port if self.midi else None,
            env=env,
        )
        self.osc = OscTraffic(self.run.osc_port, self.run.drop)
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.probed: dict[str, dict] = {}
        self.end_health: dict = {}
        self.crashes = 0
        self.restarted_at: float | None = None

    def play(self) -> None:
        run = self.run
        if self.midi is not None:
            self.midi.start_server()
        run.start()
        try:
            pid = run.up()["pid"]
            self.osc.start()
            if self.midi is not None:
                self.midi.start()
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < self.seconds:
                if run.proc.poll() is not None:
                    raise RuntimeError(f"the supervisor ended ({run.proc.returncode})")
                health = run.health()
                if health and health["pid"] != pid and self.restarted_at is None:
                    self.restarted_at = elapsed  # a new process: its memory starts afresh
                    log.error(
                        "soak: the show restarted %.0f s in (%s); the growth figures cover "
                        "the first process only",
                        elapsed,
                        run.supervisor().get("last_error"),
                    )
                if health and health["pid"] == pid:
                    self.samples.append((elapsed, proc_figures(pid)))
                if elapsed >= self.warmup_s and "start" not in self.probed:
                    frames = trace_frames()
                    self.probed["start"] = self.probe.ask(
                        pid, "trace" if frames else "sample", frames=frames
                    )
                time.sleep(SAMPLE_S)
            self.end_health = run.health() or {}
            self.crashes = run.supervisor().get("restarts", 0)
            if self.restarted_at is None:
                self.probed["end"] = self.probe.ask(pid, "snapshot" if trace_frames() else "sample")
                self.probed["trim"] = self.probe.ask(pid, "trim")
        finally:
            self.osc.stop()
            if self.midi is not None:
                self.midi.stop()
            run.stop()
        self.frames, self.events = read_stats(run.stats) if run.stats.exists() else ([], [])
        if self.crashes:
            self._crash_report()

    def _crash_report(self) -> None:
        """What the show said as it died: faulthandler's stacks (kiosk/child.py arms it)."""
        lines = (self.run.folder / "supervisor.log").read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Fatal Python error"):
                block = [x for x in lines[i : i + 80] if "osc: dropped" not in x]
                log.error("soak: the show's last words:\n%s", "\n".join(block))

    def report(self) -> dict[str, float]:
        after = [(t, s) for t, s in self.samples if t >= self.warmup_s]
        if len(after) < 4:
            raise RuntimeError("too few samples after the warm-up (the show restarted?)")
        head, tail = [s for _, s in after[:3]], [s for _, s in after[-3:]]

        def growth(key: str) -> float:
            return statistics.median(s[key] for s in tail) - statistics.median(s[key] for s in head)

        since = (self.frames[0]["t"] + self.warmup_s) if self.frames else 0.0
        per_minute = _minutes(self.frames, since)
        rss_by_minute: dict[int, list[float]] = {}
        for t, s in after:
            rss_by_minute.setdefault(int((t - self.warmup_s) // 60), []).append(s["rss_mb"])
        for i, (p50, p99) in enumerate(per_minute):
            rss = rss_by_minute.get(i)
            log.info(
                "soak minute %d: frame p50 %.1f ms, p99 %.1f ms, RSS %.1f MB",
                i + 1,
                p50,
                p99,
                statistics.median(rss) if rss else float("nan"),
            )
        self._inputs_report()
        rss = growth("rss_mb")
        log.info(
            "soak memory: %+.1f MB after warm-up over %.1f min (least squares %+.1f MB/h); "
            "threads %+.0f, fds %+.0f",
            rss,
            (after[-1][0] - after[0][0]) / 60,
            _slope_per_hour(after, "rss_mb"),
            growth("threads"),
            growth("fds"),
        )
        if self.probed.get("start") and self.probed.get("end"):
            split_report(self.probed["start"], self.probed["end"], rss)
            top_report(self.probed["end"])
        log.info("soak memory: the show's own heap trims %s", self.end_health.get("heap_trim"))
        trim_report(self.probed.get("trim", {}))
        ratio = per_minute[-1][1] / per_minute[0][1] if len(per_minute) >= 2 else 1.0
        return {
            "soak_memory_growth_mb": rss,
            "soak_thread_growth": growth("threads"),
            "soak_fd_growth": growth("fds"),
            "soak_frame_p99_ratio": ratio,
            "soak_crashes": float(self.crashes),
        }

    def _inputs_report(self) -> None:
        events = self.events
        kinds = [e["event"] for e in events]
        log.info(
            "soak inputs: OSC sent %d (%d malformed), show counted %s; corrupt checkpoints %d, "
            "rejected %d; swaps %d",
            self.osc.sent,
            self.osc.malformed,
            self.end_health.get("inputs"),
            self.osc.corrupt,
            kinds.count("reject"),
            kinds.count("swap"),
        )
        if self.midi is None:
            log.info("soak MIDI: skipped (%s)", self.midi_skipped)
            return
        received = sum(
            1
            for f in self.frames
            for i in f.get("inputs", ())
            if str(i.get("source", "")).startswith("midi:")
        )
        devices = [e for e in events if e["event"] == "midi_device"]
        connects = sum(1 for e in devices if e.get("state") == "connected")
        t0 = self.frames[0]["t"] if self.frames else 0.0
        log.info(
            "soak MIDI as the show saw it (s after its first frame): %s",
            ", ".join(
                f"{e['t'] - t0:.1f} {e.get('state', e['event'])}"
                for e in events
                if e["event"] in ("midi_device", "midi_unavailable")
            ),
        )
        log.info(
            "soak MIDI: sent %d CC (+%d garbage bytes), the show applied %d; unplugs %d, "
            "JACK server kills %d; the show saw the device go %d times and come back %d times "
            "(of %d connects), MIDI unavailable %d times",
            self.midi.sent,
            self.midi.garbage,
            received,
            self.midi.unplugs,
            self.midi.server_kills,
            len(devices) - connects,
            max(0, connects - 1),
            connects,
            kinds.count("midi_unavailable"),
        )


@benchmark(
    "soak_memory_growth_mb",
    "soak_thread_growth",
    "soak_fd_growth",
    "soak_frame_p99_ratio",
    "soak_crashes",
)
def soak(ctx: BenchContext) -> dict[str, float]:
    require_proc()
    minutes = getattr(ctx, "soak_minutes", None) or DEFAULT_MINUTES
    with tempfile.TemporaryDirectory(prefix="installation-soak-") as tmp:
        run = _Soak(ctx, Path(tmp), minutes)
        run.play()
    return run.report()
