"""What training tasks share: DDP wrapping, no-sync passes, this run's optimizer
hyperparameters after a resume, the resume state of a GAN, and the exported average. Apart from tasks.py so task
modules can import them without importing each other."""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP


def wrap_ddp(module: nn.Module, device: torch.device, distributed: bool) -> nn.Module:
    if not distributed:
        return module
    # broadcast_buffers=False: the discriminator runs twice before one backward, and
    # re-broadcasting batch-norm buffers in between would modify tensors autograd still needs.
    ids = [device.index] if device.type == "cuda" else None
    return DDP(module, device_ids=ids, broadcast_buffers=False)


def set_hyper(opt: torch.optim.Optimizer, lr: float, betas: tuple[float, float]) -> None:
    for group in opt.param_groups:
        group["lr"], group["betas"] = lr, betas


@torch.no_grad()
def calibrated_copy(
    ema: nn.Module, seed: int, device: torch.device, batches: int, batch_size: int
) -> nn.Module:
    """A copy of the averaged generator with its batch-norm statistics measured for its own
    weights (the live generator's statistics do not quite fit the average), in eval mode."""
    module = copy.deepcopy(ema)
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if bns:
        gen = torch.Generator().manual_seed(seed)
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # a plain average over the calibration batches
        module.train()
        for _ in range(batches):
            module.decode(torch.randn(batch_size, module.latent_dim, generator=gen).to(device))
        for bn in bns:
            bn.momentum = 0.1
    return module.eval()


def ramped_ema_decay(decay: float, step: int, rampup: float = 0.05) -> float:
    """The EMA decay for `step`: `decay`, but with the average's half-life held to at most
    `rampup` of the steps trained so far (the ramp-up of Karras et al., StyleGAN2-ADA). A
    young GAN changes fast; a 700-step average of its weights mixes nets that draw different
    things and, through batch norm and GLU gates, gives a noisier picture than any of them."""
    if decay <= 0.0:
        return 0.0
    half_life = math.log(0.5) / math.log(decay)  # in steps
    half_life = min(half_life, rampup * step)
    return 0.5 ** (1.0 / half_life) if half_life > 0 else 0.0


def no_sync(module: nn.Module) -> contextlib.AbstractContextManager:
    return module.no_sync() if isinstance(module, DDP) else contextlib.nullcontext()


class GANState:
    """state() / load_state() for a task holding g, d, ema, opt_g and opt_d (for --resume)."""

    def start_pair(self, distributed: bool) -> None:
        """With g and d built and initialised: the averaged generator, both Adams, and the
        DDP-wrapped modules the steps run (g and d themselves when not distributed)."""
        cfg, device = self.cfg, self.device
        self.ema = copy.deepcopy(self.g).requires_grad_(False)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr_d, betas=betas)
        self.g_run = wrap_ddp(self.g, device, distributed)
        self.d_run = wrap_ddp(self.d, device, distributed)

    def state(self) -> dict[str, Any]:
        return {
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        # The saved param groups carry the old run's hyperparameters; this run's flags win.
        set_hyper(self.opt_g, self.cfg.lr_g, (self.cfg.beta1, self.cfg.beta2))
        set_hyper(self.opt_d, self.cfg.lr_d, (self.cfg.beta1, self.cfg.beta2))
        self._export = None
