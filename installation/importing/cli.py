"""`installation import FILE --out models/NAME` and `installation sample MODEL ...`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from installation.errors import UserError

log = logging.getLogger(__name__)


def _add_import(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        type=Path,
        help="an NVIDIA StyleGAN2-ADA/StyleGAN3 .pkl, a rosinality .pt, or a StyleGAN .safetensors",
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="models/NAME", help="model folder to write"
    )
    p.add_argument("--name", help="model name on its card (default: the folder's name)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_import(args: argparse.Namespace) -> int:
    from installation.importing.imported import ImportRefused
    from installation.importing.importer import import_model

    try:
        card = import_model(args.file, args.out, name=args.name, progress=not args.no_progress)
    except ImportRefused as exc:
        # One line, no traceback, exit 2; nothing was written: refusals come before saving.
        raise UserError(str(exc)) from None
    log.info(
        "wrote %s: %s, %d px, latent %d",
        args.out,
        card.architecture,
        card.resolution,
        card.latent_dim,
    )
    return 0


def _add_sample(p: argparse.ArgumentParser) -> None:
    from installation.sample import add_arguments

    add_arguments(p)


def cmd_sample(args: argparse.Namespace) -> int:
    from installation.sample import run_sample

    return run_sample(args)


COMMANDS = [
    (
        "import",
        "import a StyleGAN2/3 generator (NVIDIA .pkl, rosinality .pt, safetensors) as a model folder",
        _add_import,
        cmd_import,
    ),
    (
        "sample",
        "a labelled seed grid (PNG) or raw outputs (.npy) of a model",
        _add_sample,
        cmd_sample,
    ),
]
