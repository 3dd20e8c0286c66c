"""Helpers every training task shares: DDP wrapping, no-sync passes, and applying this run's
optimizer hyperparameters after a resume. Apart from tasks.py so task modules can import
them without importing each other."""

from __future__ import annotations

import contextlib

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


def no_sync(module: nn.Module) -> contextlib.AbstractContextManager:
    return module.no_sync() if isinstance(module, DDP) else contextlib.nullcontext()
