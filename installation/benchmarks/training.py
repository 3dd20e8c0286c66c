"""Training throughput at 64x64: images per second through a full training step.

train_gan_images_per_s  DCGAN recipe (G and D forward/backward, both optimizers, EMA update)
train_vae_images_per_s  VAE step (encode, decode, reconstruction + KL, optimizer)

Both use the defaults of `installation train` (width 32, batch 64, torch's thread count)
on the device the show would pick, with batches from the real data path (random crops and
flips of in-memory images), measured after two warm-up steps.
"""

from __future__ import annotations

import time

import torch

from installation.bench import BenchContext, benchmark
from installation.render.renderer import choose_device
from installation.training.config import TrainConfig
from installation.training.data import ImageSet, StepSampler
from installation.training.tasks import make_task

RESOLUTION = 64
WARMUP = 2
MIN_STEPS = 6
MIN_SECONDS = 8.0


def _images_per_s(arch: str, device: torch.device) -> float:
    cfg = TrainConfig(arch=arch, resolution=RESOLUTION).resolved()
    torch.manual_seed(0)
    task = make_task(cfg, device)
    pixels = torch.randint(0, 256, (256, 3, RESOLUTION + 8, RESOLUTION + 8), dtype=torch.uint8)
    data = ImageSet(pixels, RESOLUTION, "random")
    sampler = StepSampler(len(data), cfg.batch, seed=0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step(i: int) -> None:
        real = data.batch(sampler.indices(i), torch.Generator().manual_seed(i)).to(device)
        task.train_step(real, i)

    for i in range(WARMUP):
        step(i)
    sync()
    start, n = time.perf_counter(), 0
    while n < MIN_STEPS or time.perf_counter() - start < MIN_SECONDS:
        step(WARMUP + n)
        n += 1
    sync()
    return n * cfg.batch / (time.perf_counter() - start)


@benchmark("train_gan_images_per_s", "train_vae_images_per_s")
def training_throughput(ctx: BenchContext) -> dict[str, float]:
    device = choose_device(ctx.show.model.device)
    return {
        "train_gan_images_per_s": _images_per_s("gan", device),
        "train_vae_images_per_s": _images_per_s("vae", device),
    }
