"""`installation train` and `installation dataset synth`: flags -> TrainConfig -> run.

Kept free of heavy imports: the handlers import torch when they run, not when the CLI
builds its parser.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--arch",
        choices=["gan", "vae", "mlp"],
        help="gan (default): DCGAN, 32-256 px | vae: convolutional VAE | mlp: the 28x28 GAN",
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="a folder of images (searched recursively) or synthetic:shapes",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="model folder to write, e.g. models/mine"
    )
    p.add_argument(
        "--resolution",
        type=_positive,
        help="image size: 32, 64 (default), 128, 256; the mlp makes 28",
    )
    p.add_argument(
        "--batch", type=_positive, default=64, help="images per step per process (default 64)"
    )
    p.add_argument(
        "--steps", type=_positive, default=2000, help="total training steps (default 2000)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out up to --steps")
    p.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that holds a model"
    )
    p.add_argument(
        "--save-every", type=_positive, default=500, help="checkpoint every N steps (500)"
    )
    p.add_argument(
        "--sample-every", type=_positive, default=250, help="sample grid every N steps (250)"
    )
    p.add_argument(
        "--keep", type=_non_negative, default=3, help="older checkpoints kept in checkpoints/ (3)"
    )
    p.add_argument(
        "--lr-g", type=float, help="generator (VAE: model) learning rate; 2e-4 GAN, 1e-3 VAE"
    )
    p.add_argument("--lr-d", type=float, help="discriminator learning rate (2e-4)")
    p.add_argument("--beta1", type=float, help="Adam beta1 (0.5 GAN, 0.9 VAE)")
    p.add_argument("--beta2", type=float, default=0.999, help="Adam beta2 (0.999)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, batches and noise (0)")
    p.add_argument("--latent-dim", type=_positive, help="latent size (128 GAN, 64 VAE/MLP)")
    p.add_argument("--width", type=_positive, help="generator width (32)")
    p.add_argument("--d-width", type=_positive, help="discriminator width (default: --width)")
    p.add_argument(
        "--channels", type=int, choices=[1, 3], help="3 (colour) or 1 (grey; mlp default)"
    )
    p.add_argument(
        "--loss",
        choices=["bce", "hinge"],
        help="bce (default): classic DCGAN | hinge: hinge loss + spectral-norm discriminator",
    )
    p.add_argument(
        "--ema-decay", type=float, default=0.999, help="generator weight averaging (0.999)"
    )
    p.add_argument("--recon", choices=["mse", "l1"], default="mse", help="VAE reconstruction loss")
    p.add_argument("--beta", type=float, default=1.0, help="VAE KL weight (1.0)")
    p.add_argument(
        "--kl-warmup", type=_non_negative, default=1000, help="VAE KL warm-up steps (1000)"
    )
    p.add_argument(
        "--no-flip", dest="flip", action="store_false", help="no random horizontal flips"
    )
    p.add_argument(
        "--synthetic-n", type=_positive, default=2048, help="images drawn for synthetic:KIND"
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument(
        "--export-dtype",
        choices=["fp32", "fp16"],
        default="fp32",
        help="weights in model.safetensors (fp16 halves the file)",
    )
    p.add_argument("--threads", type=_positive, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--name", help="model name in the card (default: the --out folder's name)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def exact_command(argv: list[str]) -> str:
    """The command line as typed, for the card: `python -m installation ...`, `installation
    ...` or `torchrun ... -m installation ...`."""
    from installation.training.distributed import launcher_prefix

    prefix = launcher_prefix()
    if prefix:
        return shlex.join([*prefix, "-m", "installation", *argv])
    if Path(sys.argv[0]).name == "__main__.py":
        return shlex.join(["python", "-m", "installation", *argv])
    return shlex.join([Path(sys.argv[0]).name, *argv])


def cmd_train(args: argparse.Namespace) -> int:
    import threading

    from installation.training.lifeline import arm_from_env

    stop = threading.Event()
    arm_from_env(stop.set)  # started by a show: die with it (armed before torch loads)

    from installation.errors import UserError
    from installation.training.config import TrainConfig, TrainingError
    from installation.training.lock import FolderLocked, WriterLock
    from installation.training.trainer import install_signal_handlers, run_training

    if int(os.environ.get("RANK", "0")) > 0:
        logging.getLogger().setLevel(logging.WARNING)  # one voice: rank 0 speaks for all
    cfg = TrainConfig(
        arch=args.arch,
        dataset=args.dataset,
        out=args.out,
        resolution=args.resolution,
        batch=args.batch,
        steps=args.steps,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        beta1=args.beta1,
        beta2=args.beta2,
        seed=args.seed,
        save_every=args.save_every,
        sample_every=args.sample_every,
        keep=args.keep,
        resume=args.resume,
        overwrite=args.overwrite,
        latent_dim=args.latent_dim,
        width=args.width,
        d_width=args.d_width,
        channels=args.channels,
        loss=args.loss,
        ema_decay=args.ema_decay,
        recon=args.recon,
        beta=args.beta,
        kl_warmup=args.kl_warmup,
        flip=args.flip,
        synthetic_n=args.synthetic_n,
        device=args.device,
        export_dtype=args.export_dtype,
        threads=args.threads,
        name=args.name,
        command=exact_command(args.argv),
    )
    restore = install_signal_handlers(stop)
    # One writer per folder (rank 0 writes for all ranks of a distributed run).
    lock = WriterLock(cfg.out) if int(os.environ.get("RANK", "0")) == 0 else None
    try:
        if lock is not None:
            lock.acquire()
        result = run_training(cfg, stop=stop, progress=args.progress)
    except (TrainingError, FolderLocked) as exc:
        raise UserError(str(exc)) from None
    finally:
        restore()
        if lock is not None:
            lock.release()
    if int(os.environ.get("RANK", "0")) == 0:
        log.info(
            "%s at step %d%s: %s (%.0f images/s)",
            cfg.out,
            result.step,
            " (stopped early)" if result.stopped else "",
            cfg.out / "model.safetensors",
            result.images_per_s,
        )
    return 0


def add_dataset_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    s = sub.add_parser(
        "synth",
        help="draw a procedural dataset into a folder of PNGs",
        description="draw a procedural dataset into a folder of PNGs",
    )
    s.add_argument("--kind", default="shapes", help="what to draw (shapes)")
    s.add_argument("--n", type=_positive, default=1000, help="how many images (1000)")
    s.add_argument("--out", type=Path, required=True, help="folder to write into (created)")
    s.add_argument("--seed", type=int, default=0, help="same seed, same images (0)")
    s.add_argument("--resolution", type=_positive, default=256, help="image size in pixels (256)")


def cmd_dataset(args: argparse.Namespace) -> int:
    from installation.errors import UserError
    from installation.training.synth import write_synthetic

    try:
        count = write_synthetic(
            args.kind, args.n, args.out, seed=args.seed, resolution=args.resolution
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    log.info("wrote %d %s images to %s", count, args.kind, args.out)
    return 0


COMMANDS = [
    (
        "train",
        "train a GAN, VAE or MLP generator into a model folder",
        add_train_arguments,
        cmd_train,
    ),
    (
        "dataset",
        "make datasets: `dataset synth --kind shapes --n N --out DIR`",
        add_dataset_arguments,
        cmd_dataset,
    ),
]
