"""Hot-swap figures: what a swap and a background trainer cost the render loop.

swap_stall                  worst frame time in the 2 s around a swap / the median frame
                            time (median over the swaps of one run; target <= 1.5)
swap_frames_over_2x_budget  frames slower than twice the frame budget (1/fps cap) in those
                            windows, all swaps together (target 0)
swap_stall_baseline         the same ratio for 2 s windows far from any swap: the machine's
                            own jitter, for comparison
train_interference          render p99 frame time with the trainer running / paused, at the
                            show's fps cap, trainer in a nice'd child process (target <= 1.25)
train_fps_fraction          frames/s with the trainer running / the fps cap (target >= 0.95)
train_fps_fraction_off      frames/s with the trainer paused / the fps cap: the machine's own limit
*_thread                    the same three with the trainer in a thread of the show's process
                            instead: the alternative the design rejected (docs/hotswap.md)

Swaps: perturbed copies of the show's own model are moved into a watched folder every few
seconds (a finished rsync, in effect) while the real loop plays at the show's fps cap.
Training: the real trainer with the show's `training:` settings (defaults if it is off),
paused and resumed every few seconds while one loop plays, so "on" and "off" are measured
side by side in one run on this shared machine.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, benchmark, percentile
from installation.checkpoints import load_checkpoint, save_checkpoint
from installation.config.show import Show
from installation.live.trainer import build_trainer
from installation.stats import StatsWriter, read_stats

log = logging.getLogger(__name__)

SWAPS = 4
SWAP_GAP_S = 5.0  # seconds between arrivals: the 2 s crossfade and both windows fit between
FIRST_SWAP_S = 4.0
SEGMENT_S = 6.0  # each training on / off segment
SEGMENTS = 8
SETTLE_S = 0.5  # frames right after a pause/resume are not counted in either segment
WARMUP_TIMEOUT_S = 300.0
BENCH_SAVE_EVERY = 25  # the benchmark's trainer saves often: its saves are in the figure
BENCH_SYNTHETIC_N = 256


def _frame_budget_ms(show: Show, frames: list[dict]) -> float:
    fps = show.display.fps
    return 1000.0 / fps if fps > 0 else statistics.median(f["frame_ms"] for f in frames)


# -- swap_stall ------------------------------------------------------------------------------
def _stage_variants(show: Show, folder: Path, n: int) -> list[Path]:
    """Copies of the show's model with each weight jittered by a few percent: same
    architecture (so the walk carries over), visibly different, passing every check."""
    base = load_checkpoint(show.resolve(show.model.path), "cpu")
    out = []
    for i in range(n):
        gen = torch.Generator().manual_seed(1000 + i)
        module = base.module
        with torch.no_grad():
            originals = {k: p.clone() for k, p in module.named_parameters()}
            for _, p in module.named_parameters():
                p.mul_(1 + 0.05 * torch.randn(p.shape, generator=gen))
            dest = folder / f"variant-{i}"
            save_checkpoint(
                dest,
                module,
                name=f"{base.id}-variant",
                architecture=base.card.architecture,
                config=base.card.config,
                step=base.version + i + 1,
            )
            for k, p in module.named_parameters():
                p.copy_(originals[k])
        out.append(dest)
    return out


@benchmark("swap_stall", "swap_frames_over_2x_budget", "swap_stall_baseline")
def swap_stall(ctx: BenchContext) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-hotswap-") as tmp:
        drop, stats_path = Path(tmp) / "drop", Path(tmp) / "stats.jsonl"
        drop.mkdir()
        show = ctx.show.model_copy(
            update={
                "hotswap": ctx.show.hotswap.model_copy(
                    update={"enabled": True, "watch": [str(drop)]}
                ),
                "training": ctx.show.training.model_copy(update={"enabled": False}),
                # Only the hot-swap service: no ports bound, no MIDI ports scanned.
                "osc": ctx.show.osc.model_copy(update={"enabled": False}),
                "midi": ctx.show.midi.model_copy(update={"enabled": False}),
            }
        )
        staged = _stage_variants(show, Path(tmp) / "staged", SWAPS)
        seconds = FIRST_SWAP_S + SWAPS * SWAP_GAP_S
        runtime = ShowRuntime(show, RunOptions(headless=True, seconds=seconds, stats=stats_path))
        try:
            loop = runtime.build_loop()
            runtime.start_services()
            start = time.monotonic()

            def deliver() -> None:
                for i, folder in enumerate(staged):
                    time.sleep(max(0.0, start + FIRST_SWAP_S + i * SWAP_GAP_S - time.monotonic()))
                    os.replace(folder, drop / folder.name)  # arrives whole, like a finished rsync

            threading.Thread(target=deliver, daemon=True).start()
            loop.run()
        finally:
            runtime.close()
        frames, events = read_stats(stats_path)
    frames = [f for f in frames if f["t"] - frames[0]["t"] > 1.0]  # after the first second
    swaps = [e["t"] for e in events if e["event"] == "swap"]
    rejects = [e["reason"] for e in events if e["event"] == "reject"]
    if len(swaps) < SWAPS:
        raise RuntimeError(f"only {len(swaps)} of {SWAPS} swaps happened (rejections: {rejects})")
    median = statistics.median(f["frame_ms"] for f in frames)
    budget = _frame_budget_ms(show, frames)
    ratios, over = [], 0
    for t in swaps:
        window = [f["frame_ms"] for f in frames if abs(f["t"] - t) <= 1.0]
        ratios.append(max(window) / median)
        over += sum(ms > 2 * budget for ms in window)
    quiet = [f for f in frames if all(abs(f["t"] - t) > 1.5 for t in swaps)]
    baseline = []
    if quiet:
        t0 = quiet[0]["t"]
        buckets: dict[int, list[float]] = {}
        for f in quiet:
            buckets.setdefault(int((f["t"] - t0) // 2.0), []).append(f["frame_ms"])
        baseline = [max(b) / median for b in buckets.values() if len(b) > 5]
    return {
        "swap_stall": statistics.median(ratios),
        "swap_frames_over_2x_budget": float(over),
        "swap_stall_baseline": statistics.median(baseline) if baseline else 0.0,
    }


# -- train_interference -------------------------------------------------------------------------
class _ProcessTrainer:
    """The show's own arrangement: the supervised, nice'd child process."""

    def __init__(self, show: Show) -> None:
        self.supervisor = build_trainer(show, StatsWriter(None))

    def start(self) -> None:
        self.supervisor.start()

    def pause(self, paused: bool) -> None:
        (self.supervisor.pause if paused else self.supervisor.resume)()

    def stop(self) -> None:
        self.supervisor.stop()


class _ThreadTrainer:
    """The alternative: run_training in a thread of this process, at the same nice value
    (on Linux a nice value is per thread) and the same torch thread count."""

    def __init__(self, show: Show) -> None:
        from installation.training import TrainConfig

        tr = show.training
        self.config = TrainConfig(
            arch=tr.architecture,
            dataset=tr.dataset,
            out=show.resolve(tr.out),
            resolution=tr.resolution,
            batch=tr.batch,
            steps=tr.steps,
            save_every=tr.save_every,
            keep=tr.keep,
            threads=tr.threads,
            device="cpu" if tr.device == "cpu" else "auto",
            synthetic_n=BENCH_SYNTHETIC_N,
        )
        self.nice = tr.nice
        self.stop_event, self.pause_event = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-trainer", daemon=True)

    def _run(self) -> None:
        from installation.training import run_training

        if sys.platform.startswith("linux"):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        run_training(self.config, stop=self.stop_event, pause=self.pause_event, progress=False)

    def start(self) -> None:
        self.thread.start()

    def pause(self, paused: bool) -> None:
        (self.pause_event.set if paused else self.pause_event.clear)()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(60)


def _training_show(ctx: BenchContext, out: Path) -> Show:
    extra = list(ctx.show.training.extra_args)
    if ctx.show.training.dataset.startswith("synthetic:") and "--synthetic-n" not in extra:
        extra += ["--synthetic-n", str(BENCH_SYNTHETIC_N)]  # a quicker start; same cost per step
    tr = ctx.show.training.model_copy(
        update={
            "enabled": True,
            "out": str(out),
            "save_every": BENCH_SAVE_EVERY,
            "extra_args": extra,
        }
    )
    # Hot-swap off: swaps have their own figure; this one is the trainer's CPU alone.
    return ctx.show.model_copy(
        update={
            "training": tr,
            "hotswap": ctx.show.hotswap.model_copy(update={"enabled": False}),
        }
    )


def _interference(ctx: BenchContext, trainer_class: type) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        out, stats_path = Path(tmp) / "live", Path(tmp) / "stats.jsonl"
        show = _training_show(ctx, out)
        trainer = trainer_class(show)
        trainer.start()
        try:
            deadline = time.monotonic() + WARMUP_TIMEOUT_S
            while not (out / "card.json").exists():  # its first save: it is training now
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the trainer wrote no checkpoint in {WARMUP_TIMEOUT_S:.0f} s "
                        f"(see {out / 'train.log'})"
                    )
                time.sleep(0.2)
            # The runtime gives the render the cores the trainer leaves (app.torch_threads).
            runtime = ShowRuntime(
                show, RunOptions(headless=True, seconds=SEGMENTS * SEGMENT_S, stats=stats_path)
            )
            segments: list[tuple[float, float, bool]] = []
            try:
                loop = runtime.build_loop()
                start = time.monotonic()

                def toggle() -> None:
                    for i in range(SEGMENTS):
                        on = i % 2 == 1
                        trainer.pause(not on)
                        t0 = start + i * SEGMENT_S
                        segments.append((t0 + SETTLE_S, t0 + SEGMENT_S, on))
                        time.sleep(max(0.0, t0 + SEGMENT_S - time.monotonic()))

                threading.Thread(target=toggle, daemon=True).start()
                loop.run()
            finally:
                runtime.close()
        finally:
            trainer.stop()
        frames, _ = read_stats(stats_path)
    fps_cap = show.display.fps
    on_ms, off_ms, on_frames, on_time, off_frames, off_time = [], [], 0, 0.0, 0, 0.0
    for t0, t1, on in segments:
        ms = [f["frame_ms"] for f in frames if t0 <= f["t"] < t1]
        (on_ms if on else off_ms).extend(ms)
        if on:
            on_frames, on_time = on_frames + len(ms), on_time + (t1 - t0)
        else:
            off_frames, off_time = off_frames + len(ms), off_time + (t1 - t0)
    reference = fps_cap if fps_cap > 0 else off_frames / off_time
    return (
        percentile(on_ms, 0.99) / percentile(off_ms, 0.99),
        (on_frames / on_time) / reference,
        (off_frames / off_time) / reference,
    )


@benchmark(
    "train_interference",
    "train_fps_fraction",
    "train_fps_fraction_off",
    "train_interference_thread",
    "train_fps_fraction_thread",
    "train_fps_fraction_off_thread",
)
def train_interference(ctx: BenchContext) -> dict[str, float]:
    figures = {}
    for suffix, trainer_class in (("", _ProcessTrainer), ("_thread", _ThreadTrainer)):
        ratio, on, off = _interference(ctx, trainer_class)
        figures.update(
            {
                f"train_interference{suffix}": ratio,
                f"train_fps_fraction{suffix}": on,
                f"train_fps_fraction_off{suffix}": off,
            }
        )
    return figures
