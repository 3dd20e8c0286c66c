"""Render-loop figures: how close the whole loop comes to the bare generator.

generator_fps     bare generator, batch 1, same device, precision and model as the show
loop_fps          the real render loop, uncapped, at the show's output size, dummy display
loop_efficiency   loop_fps / generator_fps, the median of rounds measured side by side
display_ms_1080p  the display path alone (scale into a 1920x1080 window, flip), ms/frame

The *_128px figures repeat the first three on a reference generator (seeded DCGAN, 128 px,
width 32, about 5-8 ms a frame here), the generator the issue's 0.85 target was set on: the
loop's cost per frame is roughly fixed, so a tiny, fast generator gets a lower ratio at a
far higher loop_fps.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, benchmark
from installation.checkpoints import save_checkpoint
from installation.config.show import Show
from installation.networks import DCGANConfig, DCGANGenerator

ROUNDS = 3
FRAMES = 240


def _bare_fps(runtime: ShowRuntime, frames: int) -> float:
    module = runtime.model.module.to(runtime.device, runtime.dtype)
    nav_z = torch.randn(
        frames, runtime.model.latent_dim, generator=torch.Generator().manual_seed(0)
    )
    sync = torch.cuda.synchronize if runtime.device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        for i in range(10):
            module.decode(nav_z[i : i + 1].to(runtime.device, runtime.dtype))
        sync()
        start = time.perf_counter()
        for i in range(frames):
            module.decode(nav_z[i : i + 1].to(runtime.device, runtime.dtype))
        sync()
    return frames / (time.perf_counter() - start)


def loop_fps(runtime: ShowRuntime, frames: int, warmup: int = 20) -> float:
    """Frames per second of the real loop, after `warmup` frames (caches, allocator, threads)."""
    loop = runtime.build_loop()
    loop.settings.max_frames = warmup
    loop.run()  # warm-up: caches, allocator, the pipeline's threads
    loop = runtime.build_loop()
    loop.settings.max_frames = frames
    start = time.perf_counter()
    shown = loop.run()
    return shown / (time.perf_counter() - start)


def _side_by_side(show: Show, suffix: str = "") -> dict[str, float]:
    runtime = ShowRuntime(show, RunOptions(headless=True, fps=0))
    try:
        bare, loop, ratio = [], [], []
        for _ in range(ROUNDS):
            b = _bare_fps(runtime, FRAMES)
            lp = loop_fps(runtime, FRAMES)
            bare.append(b)
            loop.append(lp)
            ratio.append(lp / b)
    finally:
        runtime.close()
    return {
        f"generator_fps{suffix}": statistics.median(bare),
        f"loop_fps{suffix}": statistics.median(loop),
        f"loop_efficiency{suffix}": statistics.median(ratio),
    }


@benchmark("generator_fps", "loop_fps", "loop_efficiency")
def loop_efficiency(ctx: BenchContext) -> dict[str, float]:
    return _side_by_side(ctx.show)


@benchmark("generator_fps_128px", "loop_fps_128px", "loop_efficiency_128px")
def loop_efficiency_128px(ctx: BenchContext) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        cfg = DCGANConfig(latent_dim=128, resolution=128, width=32)
        folder = Path(tmp) / "dcgan128"
        save_checkpoint(
            folder,
            DCGANGenerator(cfg).eval(),
            name="dcgan128",
            architecture="dcgan",
            config=cfg.to_dict(),
        )
        show = ctx.show.model_copy(
            update={"model": ctx.show.model.model_copy(update={"path": str(folder)})}
        )
        return _side_by_side(show, "_128px")


@benchmark("display_ms_1080p")
def display_path(ctx: BenchContext) -> dict[str, float]:
    runtime = ShowRuntime(ctx.show, RunOptions(headless=True, fps=0, size=(1920, 1080)))
    try:
        res = runtime.model.card.resolution
        pixels = np.random.default_rng(0).integers(0, 255, (res, res, 4), dtype=np.uint8)
        times = []
        for _ in range(200):
            start = time.perf_counter()
            runtime.display.present(pixels)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        runtime.close()
    return {"display_ms_1080p": statistics.median(times[20:])}
