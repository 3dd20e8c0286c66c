"""What one training step means for each architecture: GAN (dcgan, mlp) and VAE.

A task owns its networks and optimizers and offers the same small surface to the trainer:
`train_step(real, step) -> losses`, `export_module()` (what goes into model.safetensors),
`sample(z)` (what the sample grids show) and `state()` / `load_state()` for resume.
Networks are wrapped in DistributedDataParallel when running under torchrun; state always
comes from the unwrapped modules, so a checkpoint does not care how many processes made it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from installation.networks import build_model
from installation.training.config import TrainConfig
from installation.training.discriminators import DCGANDiscriminator, MLPDiscriminator, dcgan_init
from installation.training.wrap import GANState, calibrated_copy, no_sync, set_hyper, wrap_ddp


class GANTask(GANState):
    """The DCGAN recipe (BCE, Adam 2e-4, beta1 0.5) or hinge loss with a spectral-norm D;
    an exponential moving average of the generator is what gets exported."""

    loss_names = ("loss_d", "loss_g")

    def __init__(self, cfg: TrainConfig, device: torch.device, distributed: bool = False) -> None:
        self.cfg, self.device = cfg, device
        self.g = build_model(cfg.network, cfg.generator_config()).to(device)
        spectral = cfg.loss == "hinge"
        if cfg.arch == "mlp":
            self.d: nn.Module = MLPDiscriminator(cfg.channels, cfg.d_width * 8, spectral)
        else:
            self.d = DCGANDiscriminator(cfg.resolution, cfg.channels, cfg.d_width, spectral)
        self.d.to(device)
        dcgan_init(self.g)
        dcgan_init(self.d)
        self.start_pair(distributed)
        self._export: tuple[int, nn.Module] | None = None

    def _losses(
        self, d_real: torch.Tensor | None, d_fake: torch.Tensor, for_g: bool
    ) -> torch.Tensor:
        if self.cfg.loss == "hinge":
            if for_g:
                return -d_fake.mean()
            return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
        if for_g:  # the non-saturating generator loss
            return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        return F.binary_cross_entropy_with_logits(
            d_real, torch.ones_like(d_real)
        ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))

    def train_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        z = torch.randn(real.shape[0], self.g.latent_dim, device=self.device)
        fake = self.g_run(z)
        self.d.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d = self._losses(self.d_run(real), self.d_run(fake.detach()), for_g=False)
        loss_d.backward()
        self.opt_d.step()
        # Generator step: D's gradients are not needed (and not synchronised).
        self.d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with no_sync(self.d_run):
            loss_g = self._losses(None, self.d_run(fake), for_g=True)
        loss_g.backward()
        self.opt_g.step()
        self._update_ema(step)
        return {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach())}

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        # Ramp the decay in early (the first weights are noise, not worth remembering).
        decay = min(self.cfg.ema_decay, (1.0 + step) / (10.0 + step))
        for e, p in zip(self.ema.parameters(), self.g.parameters(), strict=True):
            e.lerp_(p, 1.0 - decay)
        for e, b in zip(self.ema.buffers(), self.g.buffers(), strict=True):
            e.copy_(b)

    @torch.no_grad()
    def export_module(self, step: int) -> nn.Module:
        """The averaged generator with its batch-norm statistics recomputed for its own
        weights (the live generator's statistics do not quite fit the average)."""
        if self._export is not None and self._export[0] == step:
            return self._export[1]
        module = calibrated_copy(self.ema, self.cfg.seed + 1, self.device, 8, 64)
        self._export = (step, module)
        return module

    @torch.no_grad()
    def sample(self, z: torch.Tensor, step: int) -> torch.Tensor:
        return self.export_module(step).decode(z.to(self.device)).float().cpu()


class VAETask:
    """Reconstruction (MSE or L1, summed over pixels) plus beta-weighted KL, the weight
    ramped up over `kl_warmup` steps so the decoder learns to draw before the prior pulls
    the codes together. The whole VAE is exported: its encoder turns images into keyframes."""

    loss_names = ("recon", "kl")

    def __init__(self, cfg: TrainConfig, device: torch.device, distributed: bool = False) -> None:
        self.cfg, self.device = cfg, device
        self.model = build_model("vae", cfg.generator_config()).to(device)
        self.opt = torch.optim.Adam(
            self.model.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2)
        )
        self.run = wrap_ddp(self.model, device, distributed)

    def kl_weight(self, step: int) -> float:
        if self.cfg.kl_warmup <= 0:
            return self.cfg.beta
        return self.cfg.beta * min(1.0, step / self.cfg.kl_warmup)

    def train_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        self.model.train()
        recon, mu, logvar = self.run(real)
        diff = recon - real
        per_pixel = diff.square() if self.cfg.recon == "mse" else diff.abs()
        rec = per_pixel.flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)).mean()
        loss = rec + self.kl_weight(step) * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        # recon is reported per pixel (comparable across resolutions), KL in nats per image.
        return {"recon": float(per_pixel.detach().mean()), "kl": float(kl.detach())}

    def export_module(self, step: int) -> nn.Module:
        return self.model

    @torch.no_grad()
    def sample(self, z: torch.Tensor, step: int) -> torch.Tensor:
        was_training = self.model.training
        self.model.eval()
        out = self.model.decode(z.to(self.device)).float().cpu()
        self.model.train(was_training)
        return out

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        set_hyper(self.opt, self.cfg.lr_g, (self.cfg.beta1, self.cfg.beta2))


def make_task(
    cfg: TrainConfig, device: torch.device, distributed: bool = False, n_images: int = 1000
) -> Any:
    if cfg.arch == "fewshot":
        from installation.training.fewshot_task import FewShotTask

        return FewShotTask(cfg, device, distributed, n_images)
    if cfg.arch == "sr":
        from installation.training.sr_task import SRTask

        return SRTask(cfg, device, distributed)
    return (
        VAETask(cfg, device, distributed)
        if cfg.arch == "vae"
        else GANTask(cfg, device, distributed)
    )
