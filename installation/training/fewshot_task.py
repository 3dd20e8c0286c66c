"""One training step of the few-shot GAN (`--arch fewshot`), the trainer's task interface.

The recipe of Liu et al. (ICLR 2021): hinge loss, Adam (2e-4, betas 0.5/0.999), the
discriminator's self-supervised reconstruction loss on real images, differentiable
augmentation on everything D sees, and an exponential moving average of the generator as
the exported model. On CUDA the forward passes run under autocast (fp16, with a gradient
scaler per network); on the CPU everything stays fp32, where autocast only costs time.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from installation.networks import build_model
from installation.networks.fewshot import FieldHead
from installation.training.augment import diff_augment, probability_for
from installation.training.config import TrainConfig
from installation.training.discriminators import dcgan_init
from installation.training.fewshot_d import FewShotDiscriminator
from installation.training.wrap import (
    GANState,
    calibrated_copy,
    no_sync,
    ramped_ema_decay,
)


class FewShotTask(GANState):
    loss_names = ("loss_d", "loss_g", "recon")

    def __init__(
        self,
        cfg: TrainConfig,
        device: torch.device,
        distributed: bool = False,
        n_images: int = 1000,
    ) -> None:
        self.cfg, self.device = cfg, device
        self.g = build_model("fewshot", cfg.generator_config()).to(device)
        self.d = FewShotDiscriminator(
            cfg.resolution, cfg.channels, cfg.preset or "lite", (cfg.d_width or 100) / 100
        ).to(device)
        # Spectral-norm convolutions keep their own init: writing into their computed weight
        # would change nothing.
        dcgan_init(self.g)
        if isinstance(self.g.to_rgb, FieldHead):  # a field head keeps PyTorch's init
            self.g.to_rgb.reset_parameters()
        dcgan_init(self.d)
        self.start_pair(distributed)
        self.amp = device.type == "cuda"
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.p_augment = cfg.augment if cfg.augment is not None else probability_for(n_images)
        self._export: tuple[int, nn.Module] | None = None

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else contextlib.nullcontext()

    def train_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        z = torch.randn(real.shape[0], self.g.latent_dim, device=self.device)
        p = self.p_augment
        with self._autocast():
            fake = self.g_run(z)
            if fake.shape[-1] != real.shape[-1]:  # a field head draws at twice the size
                fake = F.avg_pool2d(fake, fake.shape[-1] // real.shape[-1])
        # Discriminator: hinge on real and fake, plus rebuilding the real images.
        self.d.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            real_aug = diff_augment(real, p)
            logits_real, whole, part, quarter = self.d_run(real_aug, reconstruct=True)
            # A little noise in the margin keeps D from settling on a hard boundary (paper).
            margin = 1.0 - 0.2 * torch.rand_like(logits_real)
            loss_real = F.relu(margin - logits_real).mean()
            recon = self.d.recon_loss(real_aug.float(), whole.float(), part.float(), quarter)
            logits_fake = self.d_run(diff_augment(fake.detach(), p))
            loss_fake = F.relu(1.0 - 0.2 * torch.rand_like(logits_fake) + logits_fake).mean()
            loss_d = loss_real + loss_fake + recon
        self.scaler_d.scale(loss_d).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        # Generator: make D call the (augmented) fakes real.
        self.d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with no_sync(self.d_run), self._autocast():
            loss_g = -self.d_run(diff_augment(fake, p)).mean()
        self.scaler_g.scale(loss_g).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self._update_ema(step)
        return {
            "loss_d": float((loss_real + loss_fake).detach()),
            "loss_g": float(loss_g.detach()),
            "recon": float(recon.detach()),
        }

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        decay = ramped_ema_decay(self.cfg.ema_decay, step)
        for e, p in zip(self.ema.parameters(), self.g.parameters(), strict=True):
            e.lerp_(p, 1.0 - decay)

    @torch.no_grad()
    def export_module(self, step: int) -> nn.Module:
        """The averaged generator, its batch-norm statistics measured for its own weights."""
        if self._export is not None and self._export[0] == step:
            return self._export[1]
        # 4 x 16: smaller calibration batches than the DCGAN's, at up to 1024 px
        module = calibrated_copy(self.ema, self.cfg.seed + 1, self.device, 4, 16)
        # A field head draws at any size: the exported model at --play-resolution.
        module.resolution = self.cfg.generator_config(exported=True)["resolution"]
        self._export = (step, module)
        return module

    @torch.no_grad()
    def sample(self, z: torch.Tensor, step: int) -> torch.Tensor:
        module = self.export_module(step)
        return torch.cat([module.decode(c.to(self.device)).float().cpu() for c in z.split(16)])

    def load_generator(self, weights: dict[str, torch.Tensor]) -> None:
        """Transfer: start G (and its average) from a trained model's weights."""
        self.g.load_state_dict(weights)
        self.ema.load_state_dict(weights)
        self._export = None
