"""What a run will cost on this machine, and what would fit better, said before it costs it.

A newcomer who asks a 2-core CPU for a 256 px DCGAN waits 20 hours for blotches and
nothing warns them. So: the dataset's size is judged before the first step (a handful of
images will be memorised; a few hundred want the few-shot GAN), and after a few timed steps
the run states its speed, its ETA and, when the ETA is long, a resolution or preset that
would fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from installation.training.config import TrainConfig

log = logging.getLogger(__name__)

TIMED_STEPS = 3  # steps timed after the first (which pays for allocation and caches)
LONG_RUN_S = 8 * 3600  # beyond this a run does not fit a working day or one night
# Steps after which each architecture's samples are recognisable (measured: docs/training.md).
RECOGNISABLE_STEPS = {"fewshot": 4000, "gan": 3000, "vae": 2000, "mlp": 2000, "sr": 500}
# Training cost ratio for halving the resolution (measured on this 2-core CPU, batch 8:
# fewshot 0.50 -> 0.27 s a step from 256 to 128 px; the DCGAN scales with the pixels).
HALVING_SPEEDUP = {"fewshot": 1.9, "sr": 1.0}


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    h, m = seconds // 3600, seconds % 3600 // 60
    if h >= 48:
        return f"{seconds / 86400:.1f} days"
    return f"{h} h {m:02d} min" if h else f"{m} min"


def dataset_warnings(cfg: TrainConfig, n_images: int) -> list[str]:
    """Warnings about the dataset's size for this architecture (said before any step)."""
    out = []
    if cfg.arch == "sr":
        return out
    if n_images < 20:
        out.append(
            f"{n_images} image(s): the model will memorise them and a latent walk will cut "
            "between near-copies; 100 or more varied images make a walk worth watching"
        )
    if cfg.arch == "gan" and n_images < 1000:
        out.append(
            f"{n_images} images is few for a DCGAN (it wants thousands); "
            "--arch fewshot is made for 100-1000 images"
        )
    return out


@dataclass(frozen=True)
class Estimate:
    seconds_per_step: float
    images_per_s: float
    eta_s: float  # for the steps this run still has to do
    advice: list[str]

    def message(self, cfg: TrainConfig, remaining: int) -> str:
        text = (
            f"cost on this machine: {self.seconds_per_step:.2f} s a step ({self.images_per_s:.1f} "
            f"images/s at {cfg.resolution} px, batch {cfg.batch}): {remaining} steps take about "
            f"{duration(self.eta_s)}"
        )
        return text + "".join(f"; {a}" for a in self.advice)


def estimate(
    cfg: TrainConfig, seconds_per_step: float, remaining: int, device_type: str
) -> Estimate:
    eta = seconds_per_step * remaining
    advice: list[str] = []
    arch = cfg.arch or "gan"
    needed = RECOGNISABLE_STEPS.get(arch, 3000)
    advice.append(
        f"{arch} samples get recognisable after about {needed} steps "
        f"({duration(needed * seconds_per_step)} here)"
    )
    if arch == "fewshot" and cfg.preset == "full" and device_type == "cpu":
        advice.append(
            "--preset full is shaped for a GPU; on a CPU --preset lite trains several "
            "times faster and plays at 60 fps"
        )
    if eta > LONG_RUN_S and cfg.resolution and cfg.resolution > 64 and arch != "sr":
        speedup = HALVING_SPEEDUP.get(arch, 4.0)
        advice.append(
            f"recommended here: --resolution {cfg.resolution // 2} (about "
            f"{duration(eta / speedup)} for the same steps)"
            + ("" if arch == "fewshot" else ", or --arch fewshot")
        )
    return Estimate(seconds_per_step, cfg.batch / seconds_per_step, eta, advice)


def save_interval(cfg: TrainConfig, first: int, minimum_saves: int = 3) -> int:
    """Steps between checkpoints: --save-every, lowered when it would leave fewer than
    `minimum_saves` playable checkpoints before the end of this run."""
    remaining = cfg.steps - first
    if remaining <= 0 or remaining // cfg.save_every >= minimum_saves:
        return cfg.save_every
    every = max(1, remaining // minimum_saves)
    if every < cfg.save_every:
        log.info(
            "saving every %d steps (not %d) so this %d-step run leaves %d checkpoints",
            every,
            cfg.save_every,
            remaining,
            remaining // every,
        )
    return every
