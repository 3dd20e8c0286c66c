"""Performance-instrument figures.

morph_frame_ms_ratio      p99 frame time (generate + present, real time) of frames during
                          scene morphs over idle frames, on the show's model at its output size
                          (virtual 60 fps clock, so a 1 s morph spans 60 frames): each round is
                          an idle window and a morph window side by side, in ABBA order (which
                          goes first alternates), and the figure is the median of the rounds'
                          ratios, so a burst of load on the shared machine moves one round only
render_fps_1080p_offline  `installation render` throughput at 1920x1080, 30 fps into an MP4
                          (H.264; a PNG folder when PyAV is missing), the show's model, a
                          replay of a loop with jitter, startup and encoding included
projection_s_per_image    seconds to project a picture the model drew to the projector's
                          target loss (MSE 0.005), one thread, median of three
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import tempfile
import time
from pathlib import Path

from installation.app import RunOptions, ShowRuntime, run_show
from installation.bench import BenchContext, Skipped, benchmark, percentile
from installation.config.show import Show
from installation.events import ControlEvent
from installation.instruments.service import offline_show
from installation.instruments.video import encode_frames
from installation.render.encoder import available_codecs

log = logging.getLogger(__name__)

ROUNDS = 9
WINDOW = 120  # frames: two 1 s morphs at the virtual 60 fps


def _private(show: Show, folder: Path) -> Show:
    """The show offline, its scenes in a temporary file (a benchmark never writes the show's)."""
    show = offline_show(show)
    perf = show.performance.model_copy(
        update={"scene_file": str(folder / "scenes.yaml"), "quantize": "none"}
    )
    return show.model_copy(update={"performance": perf})


@benchmark("morph_frame_ms_ratio")
def morph_ratio(ctx: BenchContext) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        runtime = ShowRuntime(
            _private(ctx.show, Path(tmp)), RunOptions(headless=True, fixed_step=True, fps=60)
        )
        try:
            loop = runtime.build_loop()
            runtime.start_services()
            put = loop.hooks.events.put

            def frames(n: int) -> list[float]:
                times = []
                for _ in range(n):
                    loop.clock.sleep_until(loop.frame / 60)
                    start = time.perf_counter()
                    loop.step()
                    times.append((time.perf_counter() - start) * 1000)
                return times

            put(ControlEvent("morph.time", 1.0))
            frames(1)  # the scenes store it: every recall morphs for 1 s, 60 frames
            put(ControlEvent("scene.store", math.nan, text="a"))
            frames(30)
            for target, value in (
                ("walk.speed", 1.2),
                ("latent.truncation", 1.2),
                ("jitter.amount", 0.2),
            ):
                put(ControlEvent(target, value))
            put(ControlEvent("scene.store", math.nan, text="b"))
            frames(30)
            jumps = 0

            def morphing() -> list[float]:
                nonlocal jumps
                times = []
                for _ in range(WINDOW // 60):
                    jumps += 1
                    put(ControlEvent("cue.jump", float(1 + jumps % 2)))
                    times += frames(60)
                return times

            ratios = []
            for i in range(ROUNDS):
                # ABBA: which window comes first alternates, so a trend in the load favours
                # neither (a tuple is evaluated left to right).
                if i % 2 == 0:
                    idle, morph = frames(WINDOW), morphing()
                else:
                    morph, idle = morphing(), frames(WINDOW)
                ratios.append(percentile(morph, 0.99) / percentile(idle, 0.99))
        finally:
            runtime.close()
    log.info("morph_frame_ms_ratio by round: %s", " ".join(f"{r:.2f}" for r in ratios))
    return {"morph_frame_ms_ratio": statistics.median(ratios)}


def _replay_log(path: Path, seconds: float) -> None:
    lines = [{"t": 0.0, "event": "start", "version": 1}]
    lines += [
        {"t": 0.0, "event": "control", "target": "keyframe.seed", "value": s, "source": "bench"}
        for s in (1, 2, 3)
    ]
    lines += [
        {"t": 0.0, "event": "control", "target": t, "value": v, "source": "bench"}
        for t, v in (("loop.period", seconds), ("loop.on", 1), ("jitter.amount", 0.1))
    ]
    lines.append({"t": seconds, "event": "end"})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")


@benchmark("render_fps_1080p_offline")
def render_offline(ctx: BenchContext) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = folder / "set.jsonl"
        _replay_log(log, 3.0)
        video = bool(available_codecs())
        opts = RunOptions(
            headless=True,
            out=folder / "frames",
            fixed_step=True,
            fps=30,
            size=(1920, 1080),
            replay=log,
            progress=False,
            frames=91,
            out_format="bmp" if video else "png",
        )
        start = time.perf_counter()
        done = run_show(_private(ctx.show, folder), opts)
        if video:
            encode_frames(folder / "frames", folder / "set.mp4", 30)
        elapsed = time.perf_counter() - start
    return {"render_fps_1080p_offline": done / elapsed}


@benchmark("projection_s_per_image")
def projection_time(ctx: BenchContext) -> dict[str, float]:
    """Seconds to project a picture the show's model drew (so the loss is reachable) to the
    projector's target loss, single-threaded on this CPU, median of three images."""
    import copy

    import torch

    from installation.checkpoints import load_checkpoint
    from installation.instruments.project import TARGET_LOSS, project

    model = load_checkpoint(ctx.show.resolve(ctx.show.model.path), "cpu")
    if callable(getattr(model.module, "encode", None)):
        raise Skipped("the show's model is a VAE: it encodes images, nothing to project")
    module = copy.deepcopy(model.module).float().eval().requires_grad_(False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the projection thread beside a single-threaded render
    try:
        times = []
        for seed in (1, 2, 3):
            z = torch.randn(1, model.latent_dim, generator=torch.Generator().manual_seed(seed))
            with torch.no_grad():
                target = module.decode(z)
            start = time.perf_counter()
            _, loss = project(module, model.latent_dim, target, steps=2000, target_loss=TARGET_LOSS)
            times.append(time.perf_counter() - start)
            if loss > TARGET_LOSS:
                log.warning(
                    "projection %d stopped at loss %.4f above the target %.4f",
                    seed,
                    loss,
                    TARGET_LOSS,
                )
    finally:
        torch.set_num_threads(threads)
    return {"projection_s_per_image": statistics.median(times)}
