"""`installation directions MODEL`: compute (or show) a model's GANSpace directions."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from installation.checkpoints import CheckpointError, load_checkpoint
from installation.errors import UserError
from installation.files import atomic_write_bytes
from installation.instruments.directions import (
    K,
    compute_directions,
    load_directions,
    save_directions,
)

log = logging.getLogger(__name__)

STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


def _add_directions(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="a model folder (model.safetensors + card.json)")
    p.add_argument("--samples", type=int, default=4096, help="latents sampled (default 4096)")
    p.add_argument("--force", action="store_true", help="compute again even if the cache is fresh")
    p.add_argument(
        "--strip",
        type=Path,
        metavar="FILE.png",
        help="also write a picture: one row per direction, -3 to +3 sigma around a seed",
    )
    p.add_argument("--seed", type=int, default=7, help="the seed the strip's rows start from")


@torch.no_grad()
def strip_image(model, directions, seed: int) -> torch.Tensor:
    """[k * 7, C, H, W]: row k pushes one latent along direction k from -3 to +3 sigma."""
    from installation.instruments.modes import seeded_latent

    z0 = seeded_latent(seed, model.latent_dim) * 0.8  # the default show's truncation
    rows = []
    for k in range(directions.vectors.shape[0]):
        amounts = np.zeros(directions.vectors.shape[0], dtype=np.float32)
        for step in STEPS:
            amounts[k] = step
            rows.append(z0 + directions.offset(amounts))
    z = torch.from_numpy(np.stack(rows))
    return model.module.decode(z).float()


def cmd_directions(args: argparse.Namespace) -> int:
    from installation.training.plots import _png, grid_image

    if args.samples < 16:
        raise UserError("--samples must be at least 16")
    try:
        model = load_checkpoint(args.model, "cpu")
    except CheckpointError as exc:
        raise UserError(f"{args.model}: {exc}") from None
    directions, why = load_directions(args.model, model.latent_dim)
    if directions is None or args.force:
        if why:
            log.info("%s", why)
        directions = compute_directions(model.module, model.latent_dim, samples=args.samples, k=K)
        path = save_directions(args.model, directions)
        log.info("directions saved to %s (layer %s)", path, directions.layer)
    for i, (share, sigma) in enumerate(zip(directions.explained, directions.sigma, strict=True), 1):
        log.info("direction/%d: %4.1f%% of the variance, sigma %.3f", i, 100 * share, sigma)
    if args.strip is not None:
        image = grid_image(strip_image(model, directions, args.seed), nrow=len(STEPS), scale=2)
        atomic_write_bytes(args.strip, _png(image))
        log.info(
            "strip written to %s: row k is direction/k, -3 to +3 sigma left to right", args.strip
        )
    return 0


COMMANDS = [
    (
        "directions",
        "compute a model's latent directions (GANSpace), cached beside it; --strip FILE.png",
        _add_directions,
        cmd_directions,
    ),
]
