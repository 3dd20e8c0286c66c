"""One training step of the learned upscaler (`--arch sr`): self-supervised restoration.

Each batch of real images (random crops at `--resolution`) is shrunk by the scale with an
area filter, then the net learns to give the originals back (L1, Adam). The show's frames
are soft generator output, not camera noise, so a plain area downscale is a fair model of
what the upscaler will be handed. Sample grids show, per image, the bilinear upsample, the
net's answer and the original side by side.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from installation.networks import build_model
from installation.training.config import TrainConfig
from installation.training.wrap import set_hyper, wrap_ddp

PATCH = 64  # low-resolution patch size: small patches, many per image, fast steps


class SRTask:
    loss_names = ("l1", "l1_bilinear")

    def __init__(self, cfg: TrainConfig, device: torch.device, distributed: bool = False) -> None:
        self.cfg, self.device = cfg, device
        self.model = build_model("sr", cfg.generator_config()).to(device)
        self.opt = torch.optim.Adam(
            self.model.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2)
        )
        self.run = wrap_ddp(self.model, device, distributed)
        self.reference: torch.Tensor | None = None  # the first batch, for comparable sample grids

    def _pairs(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.cfg.scale
        hr_size = min(real.shape[-1], PATCH * s)
        if hr_size < real.shape[-1]:
            oy, ox = torch.randint(0, real.shape[-1] - hr_size + 1, (2,)).tolist()
            real = real[..., oy : oy + hr_size, ox : ox + hr_size]
        return F.interpolate(real, scale_factor=1 / s, mode="area"), real

    def train_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        if self.reference is None:
            self.reference = real[:8].detach().cpu()
        low, high = self._pairs(real)
        self.model.train()
        out = self.run(low)
        loss = F.l1_loss(out, high)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():  # what the net has to beat
            base = F.l1_loss(
                F.interpolate(
                    low, scale_factor=self.cfg.scale, mode="bilinear", align_corners=False
                ),
                high,
            )
        return {"l1": float(loss.detach()), "l1_bilinear": float(base)}

    def export_module(self, step: int) -> nn.Module:
        return self.model

    @torch.no_grad()
    def sample(self, z: torch.Tensor, step: int) -> torch.Tensor:
        """Rows of (bilinear, upscaled, original) for the reference images."""
        if self.reference is None:
            return torch.zeros(1, self.cfg.channels, 8, 8)
        high = self.reference.to(self.device)
        low = F.interpolate(high, scale_factor=1 / self.cfg.scale, mode="area")
        self.model.eval()
        up = self.model.upscale(low)
        self.model.train()
        base = F.interpolate(low, scale_factor=self.cfg.scale, mode="bilinear", align_corners=False)
        return torch.stack([base, up, high], dim=1).flatten(0, 1).float().cpu()

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        set_hyper(self.opt, self.cfg.lr_g, (self.cfg.beta1, self.cfg.beta2))
