"""StyleGAN figures: random-init generators of the standard configs, bare and in the loop.

generator_fps_sg2_256    StyleGAN2 config F at 256 px (z = w = 512, 8 mapping layers,
                         channel_base 32768, channel_max 512), batch 1, the show's device
                         and precision (fp32 on a CPU)
generator_fps_sg2_512    the same at 512 px
generator_fps_sg3t_256   StyleGAN3-T at 256 px (the paper's config: 14 layers, 2 mapping)
loop_efficiency_sg2_256  the real render loop at 1920x1080 (dummy display, uncapped) over
                         the bare generator, measured side by side, median of the rounds
generator_fps_sg2_{512,1024}_fp16   on CUDA only (the figures are left out elsewhere)

A CPU frame of these takes seconds, so the frame counts are small; the machine is shared,
so compare ratios taken in one run rather than fps across runs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, benchmark
from installation.benchmarks.render import loop_fps
from installation.checkpoints import save_checkpoint
from installation.networks import (
    StyleGAN2Config,
    StyleGAN2Generator,
    StyleGAN3Config,
    StyleGAN3Generator,
)
from installation.networks.stylegan_base import StyleControls
from installation.render.renderer import choose_device, choose_dtype


def _fps(
    module: torch.nn.Module, device: torch.device, dtype: torch.dtype, frames: int, warmup: int = 1
) -> float:
    module = module.eval().requires_grad_(False).to(device, dtype)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(frames + warmup, module.latent_dim, generator=gen).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    controls = StyleControls(psi=0.7)
    with torch.inference_mode():
        for i in range(warmup):
            module.decode(z[i : i + 1], controls)
        sync()
        start = time.perf_counter()
        for i in range(warmup, warmup + frames):
            module.decode(z[i : i + 1], controls)
        sync()
    return frames / (time.perf_counter() - start)


def _device(ctx: BenchContext) -> tuple[torch.device, torch.dtype]:
    device = choose_device(ctx.show.model.device)
    return device, choose_dtype(device, ctx.show.model.precision)


def _frames(device: torch.device, cpu: int, gpu: int = 50) -> int:
    return gpu if device.type == "cuda" else cpu


@benchmark("generator_fps_sg2_256", "generator_fps_sg2_512", "generator_fps_sg3t_256")
def generator_fps(ctx: BenchContext) -> dict[str, float]:
    device, dtype = _device(ctx)
    torch.manual_seed(0)
    return {
        "generator_fps_sg2_256": _fps(
            StyleGAN2Generator(StyleGAN2Config(resolution=256)), device, dtype, _frames(device, 4)
        ),
        "generator_fps_sg2_512": _fps(
            StyleGAN2Generator(StyleGAN2Config(resolution=512)), device, dtype, _frames(device, 2)
        ),
        "generator_fps_sg3t_256": _fps(
            StyleGAN3Generator(StyleGAN3Config(resolution=256)), device, dtype, _frames(device, 2)
        ),
    }


@benchmark("generator_fps_sg2_512_fp16", "generator_fps_sg2_1024_fp16")
def generator_fps_fp16(ctx: BenchContext) -> dict[str, float]:
    if not torch.cuda.is_available():
        return {}  # fp16 figures mean CUDA; a CPU has none to report
    device = torch.device("cuda")
    torch.manual_seed(0)
    return {
        f"generator_fps_sg2_{res}_fp16": _fps(
            StyleGAN2Generator(StyleGAN2Config(resolution=res)),
            device,
            torch.float16,
            100,
            warmup=10,
        )
        for res in (512, 1024)
    }


@benchmark("loop_efficiency_sg2_256", "loop_fps_sg2_256")
def loop_efficiency_sg2(ctx: BenchContext) -> dict[str, float]:
    device, dtype = _device(ctx)
    frames = _frames(device, 4, 120)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        cfg = StyleGAN2Config(resolution=256)
        folder = Path(tmp) / "sg2-256"
        save_checkpoint(
            folder,
            StyleGAN2Generator(cfg).eval(),
            name="sg2-256",
            architecture="stylegan2",
            config=cfg.to_dict(),
        )
        show = ctx.show.model_copy(
            update={"model": ctx.show.model.model_copy(update={"path": str(folder)})}
        )
        runtime = ShowRuntime(show, RunOptions(headless=True, fps=0, size=(1920, 1080)))
        try:
            ratios, loops = [], []
            for _ in range(2):
                bare = _fps(runtime.model.module, runtime.device, runtime.dtype, frames)
                loop = loop_fps(runtime, frames, warmup=2)
                ratios.append(loop / bare)
                loops.append(loop)
        finally:
            runtime.close()
    return {
        "loop_efficiency_sg2_256": statistics.median(ratios),
        "loop_fps_sg2_256": statistics.median(loops),
    }
