"""Running under torchrun: one process per device, DistributedDataParallel between them.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; with WORLD_SIZE > 1 each process joins the
group (NCCL on CUDA, gloo on the CPU), trains on its own slice of every batch and averages
gradients with the others. Only rank 0 writes checkpoints, grids and logs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world: int = 1
    owns_group: bool = False  # we initialised the process group, so we tear it down

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(requested: str, local_rank: int) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was asked for, but torch sees no CUDA GPU")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(requested)


def setup(device_request: str) -> tuple[DistInfo, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_request, local_rank)
    if world <= 1:
        return DistInfo(), device
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        owns = True
    info = DistInfo(dist.get_rank(), local_rank, dist.get_world_size(), owns)
    log.info("rank %d of %d on %s (%s)", info.rank, info.world, device, dist.get_backend())
    return info, device


def any_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank when any rank's flag is set: all ranks stop at the same step."""
    if not info.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def teardown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def launcher_prefix() -> list[str]:
    """How this process was launched, for the card's command line."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return []
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    nodes = max(1, world // max(1, per_node))
    prefix = ["torchrun", f"--nproc_per_node={per_node}"]
    if nodes > 1:
        prefix.append(f"--nnodes={nodes}")
    return prefix
