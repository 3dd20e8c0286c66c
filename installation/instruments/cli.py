"""`installation directions MODEL`: compute (or show) a model's GANSpace directions."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from installation.checkpoints import CheckpointError, load_checkpoint
from installation.errors import UserError
from installation.instruments.strip import directions_for, write_strips

log = logging.getLogger(__name__)


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


def cmd_directions(args: argparse.Namespace) -> int:
    if args.samples < 16:
        raise UserError("--samples must be at least 16")
    try:
        model = load_checkpoint(args.model, "cpu")
    except CheckpointError as exc:
        raise UserError(f"{args.model}: {exc}") from None
    directions = directions_for(model, args.samples, args.force)
    for i, (share, sigma) in enumerate(zip(directions.explained, directions.sigma, strict=True), 1):
        log.info("direction/%d: %4.1f%% of the variance, sigma %.3f", i, 100 * share, sigma)
    if args.strip is not None:
        try:
            write_strips(args.strip, model, directions, args.seed)
        except ValueError as exc:
            raise UserError(str(exc)) from None
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
