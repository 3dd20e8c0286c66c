"""Few-shot GAN and learned upscaler figures (issue 11).

train_fewshot_images_per_s      a full few-shot step at 256 px (lite, batch 8: G, D with its
                                rebuilds, DiffAugment, both optimizers, EMA), images/s
generator_fps_fewshot_lite_256  the bare lite generator at 256 px, batch 1, as the show runs it
loop_fps_fewshot_lite_256       the real render loop on it, uncapped, 1920x1080 output
generator_fps_fewshot_field_256 the same for the field head (the shipped default's shape),
loop_fps_fewshot_field_256      measured in the same rounds, alternating with the rgb head
sr_ms_x2_256                    the x2 upscaler on a 256 px frame (the shipped one when present)

On a GPU also generator_fps_fewshot_full_1024 and sr_ms_x4_256. The generators are seeded,
untrained nets of the shipped shapes: speed does not depend on what the weights learned.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, Skipped, benchmark
from installation.checkpoints import save_checkpoint
from installation.networks import FewShotConfig, FewShotGenerator
from installation.networks.fewshot import HEADS
from installation.networks.sr import SRConfig, SRUpscaler
from installation.render.renderer import choose_device, choose_dtype
from installation.training.config import TrainConfig
from installation.training.data import ImageSet, StepSampler
from installation.training.tasks import make_task

ROUNDS = 3
FRAMES = 240


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_images_per_s(device: torch.device, steps: int = 6) -> float:
    cfg = TrainConfig(arch="fewshot", resolution=256).resolved()
    torch.manual_seed(0)
    task = make_task(cfg, device, n_images=200)
    data = ImageSet(torch.randint(0, 256, (32, 3, 256, 256), dtype=torch.uint8), 256, "random")
    sampler = StepSampler(len(data), cfg.batch, seed=0)

    def step(i: int) -> None:
        task.train_step(
            data.batch(sampler.indices(i), torch.Generator().manual_seed(i)).to(device), i
        )

    for i in range(2):
        step(i)
    _sync(device)
    start = time.perf_counter()
    for i in range(steps):
        step(2 + i)
    _sync(device)
    return steps * cfg.batch / (time.perf_counter() - start)


def _fps(fn, device: torch.device, frames: int) -> float:
    with torch.inference_mode():
        for _ in range(10):
            fn()
        _sync(device)
        start = time.perf_counter()
        for _ in range(frames):
            fn()
        _sync(device)
    return frames / (time.perf_counter() - start)


def _fewshot_folder(tmp: Path, head: str) -> Path:
    torch.manual_seed(0)
    cfg = FewShotConfig(resolution=256, preset="lite", head=head)
    folder = tmp / f"fewshot-{head}-256"
    save_checkpoint(
        folder,
        FewShotGenerator(cfg).eval(),
        name=folder.name,
        architecture="fewshot",
        config={**cfg.to_dict(), "widths": {str(k): v for k, v in cfg.widths.items()}},
        dtype=torch.float16,
    )
    return folder


@benchmark("train_fewshot_images_per_s")
def fewshot_training(ctx: BenchContext) -> dict[str, float]:
    return {"train_fewshot_images_per_s": _train_images_per_s(choose_device(ctx.show.model.device))}


def _runtime(ctx: BenchContext, folder: Path) -> ShowRuntime:
    model = ctx.show.model.model_copy(update={"path": str(folder)})
    show = ctx.show.model_copy(update={"model": model})
    return ShowRuntime(show, RunOptions(headless=True, fps=0, size=(1920, 1080)))


def _round(runtime: ShowRuntime) -> tuple[float, float]:
    """(bare generator fps, uncapped loop fps at 1920x1080) on one runtime."""
    module, device = runtime.model.module, runtime.device
    z = torch.randn(1, module.latent_dim).to(device, runtime.dtype)
    gen = _fps(lambda: module.decode(z), device, FRAMES)
    lp = runtime.build_loop()
    lp.settings.max_frames = 20
    lp.run()
    lp = runtime.build_loop()
    lp.settings.max_frames = FRAMES
    start = time.perf_counter()
    shown = lp.run()
    return gen, shown / (time.perf_counter() - start)


@benchmark(
    "generator_fps_fewshot_lite_256",
    "loop_fps_fewshot_lite_256",
    "generator_fps_fewshot_field_256",
    "loop_fps_fewshot_field_256",
)
def fewshot_lite(ctx: BenchContext) -> dict[str, float]:
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runtimes = {head: _runtime(ctx, _fewshot_folder(Path(tmp), head)) for head in HEADS}
        try:
            for _ in range(ROUNDS):  # the heads alternate, so a busy spell hits both
                for head, runtime in runtimes.items():
                    head_name = "lite" if head == "rgb" else head
                    gen, loop = _round(runtime)
                    figures.setdefault(f"generator_fps_fewshot_{head_name}_256", []).append(gen)
                    figures.setdefault(f"loop_fps_fewshot_{head_name}_256", []).append(loop)
        finally:
            for runtime in runtimes.values():
                runtime.close()
    return {name: statistics.median(values) for name, values in figures.items()}


def _sr_ms(scale: int, device: torch.device, dtype: torch.dtype, folder: Path | None) -> float:
    if folder is not None and (folder / "model.safetensors").exists():
        from installation.checkpoints import load_checkpoint

        module = load_checkpoint(folder).module
    else:
        torch.manual_seed(0)
        module = SRUpscaler(SRConfig(scale=scale)).eval()
    module = module.to(device, dtype)
    x = torch.rand(1, 3, 256, 256, device=device, dtype=dtype) * 2 - 1
    return 1000.0 / _fps(lambda: module.upscale(x), device, 60)


@benchmark("sr_ms_x2_256")
def sr_cost(ctx: BenchContext) -> dict[str, float]:
    device = choose_device(ctx.show.model.device)
    dtype = choose_dtype(device, ctx.show.model.precision)
    shipped = ctx.show_path.resolve().parent / "models" / "default-fluid-sr"
    return {"sr_ms_x2_256": _sr_ms(2, device, dtype, shipped)}


@benchmark("generator_fps_fewshot_full_1024", "sr_ms_x4_256")
def fewshot_gpu(ctx: BenchContext) -> dict[str, float]:
    device = choose_device(ctx.show.model.device)
    if device.type != "cuda":
        raise Skipped("GPU figures: no CUDA device here")
    dtype = choose_dtype(device, ctx.show.model.precision)
    torch.manual_seed(0)
    module = (
        FewShotGenerator(FewShotConfig(resolution=1024, preset="full")).eval().to(device, dtype)
    )
    z = torch.randn(1, module.latent_dim, device=device, dtype=dtype)
    return {
        "generator_fps_fewshot_full_1024": _fps(lambda: module.decode(z), device, 120),
        "sr_ms_x4_256": _sr_ms(4, device, dtype, None),
    }
