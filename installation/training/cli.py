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
        choices=["gan", "vae", "mlp", "fewshot", "sr"],
        help="gan (default): DCGAN, 32-256 px | vae: convolutional VAE | mlp: the 28x28 GAN | "
        "fewshot: the few-shot GAN for 100-1000 images, 64-1024 px (256 default) | "
        "sr: a learned x2/x4 upscaler for display.upscale",
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="a folder of images (searched recursively; `dataset prepare` makes one) or "
        "synthetic:KIND (fluid, marble, ink, nebula, shapes)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="model folder to write, e.g. models/mine"
    )
    p.add_argument(
        "--resolution",
        type=_positive,
        help="image size: 32, 64 (default), 128, 256; fewshot 64-1024 (256); the mlp makes 28",
    )
    p.add_argument(
        "--batch", type=_positive, help="images per step per process (64; fewshot 8, sr 16)"
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
    p.add_argument("--latent-dim", type=_positive, help="latent size (128 GAN/fewshot, 64 VAE/MLP)")
    p.add_argument(
        "--width",
        type=_positive,
        help="generator width (32); fewshot: percent of the preset's widths (100)",
    )
    p.add_argument(
        "--preset",
        choices=["lite", "full"],
        help="fewshot: lite (default; a CPU plays 256 px at 60 fps) | full (GPU, the paper's widths)",
    )
    p.add_argument(
        "--head",
        choices=["rgb", "field"],
        help="fewshot: rgb (default) | field: smooth fields coloured per pixel, for flowing "
        "pictures (marbling, ink, nebulae); its weights draw at any size",
    )
    p.add_argument(
        "--play-resolution",
        type=_positive,
        help="fewshot --head field: the exported model draws at this size (default: twice --resolution, the size it draws while training)",
    )
    p.add_argument(
        "--augment",
        type=float,
        help="fewshot: DiffAugment probability 0..1 (default: adapts to the dataset size)",
    )
    p.add_argument("--scale", type=int, choices=[2, 4], help="sr: upscaling factor (2)")
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
        default="fp16",
        help="weights in model.safetensors: fp16 (default, half the file) | fp32",
    )
    p.add_argument("--threads", type=_positive, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--name", help="model name in the card (default: the --out folder's name)")
    p.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fewshot: start the generator from this trained model (same shape): transfer",
    )
    p.add_argument(
        "--estimate",
        action="store_true",
        help="time a few steps, say what the run would cost here and what fits; write nothing",
    )
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
        preset=args.preset,
        head=args.head,
        play_resolution=args.play_resolution,
        augment=args.augment,
        scale=args.scale,
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
        estimate=args.estimate,
        init_from=args.init_from,
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
    s.add_argument(
        "--kind",
        default="shapes",
        help="what to draw: fluid (marbling, ink, nebulae), marble, ink, nebula, shapes (shapes)",
    )
    s.add_argument("--n", type=_positive, default=1000, help="how many images (1000)")
    s.add_argument("--out", type=Path, required=True, help="folder to write into (created)")
    s.add_argument("--seed", type=int, default=0, help="same seed, same images (0)")
    s.add_argument("--resolution", type=_positive, default=256, help="image size in pixels (256)")
    s.add_argument(
        "--contact-sheet", action="store_true", help="also write contact-sheet.png of the first 64"
    )
    p_ = sub.add_parser(
        "prepare",
        help="make a training folder from photos, drawings or a video",
        description="square, same-size images from a folder of any images, or a video: "
        "EXIF orientation, transparency onto a background, duplicates "
        "removed; report.txt and contact-sheet.png say what was used",
    )
    p_.add_argument(
        "src", type=Path, help="a folder (searched recursively), an image or a video file"
    )
    p_.add_argument("--out", type=Path, required=True, help="folder to write into (created)")
    p_.add_argument("--size", type=_positive, default=256, help="square size in pixels (256)")
    p_.add_argument(
        "--fit",
        choices=["crop", "pad", "random-crops"],
        default="crop",
        help="crop: fill the square (default) | pad: letterbox onto the background | "
        "random-crops: --crops random squares per image",
    )
    p_.add_argument(
        "--crops", type=_positive, default=4, help="random-crops: squares per image (4)"
    )
    p_.add_argument(
        "--background",
        default="black",
        help="colour under transparency and padding: black (default), white, #rrggbb, r,g,b",
    )
    p_.add_argument(
        "--grey",
        choices=["expand", "keep"],
        default="expand",
        help="greyscale images: expand to RGB (default) | keep as one channel",
    )
    p_.add_argument("--every", type=_positive, default=30, help="video: keep one frame in N (30)")
    p_.add_argument("--seed", type=int, default=0, help="random-crops: same seed, same crops (0)")


def cmd_dataset(args: argparse.Namespace) -> int:
    from installation.errors import UserError
    from installation.training.prepare import PrepareError, contact_sheet, prepare_dataset
    from installation.training.synth import write_synthetic

    if args.dataset_command == "prepare":
        try:
            prepare_dataset(
                args.src,
                args.out,
                args.size,
                fit=args.fit,
                background=args.background,
                grey=args.grey,
                every=args.every,
                crops=args.crops,
                seed=args.seed,
            )
        except (PrepareError, ValueError) as exc:
            raise UserError(str(exc)) from None
        return 0
    try:
        count = write_synthetic(
            args.kind, args.n, args.out, seed=args.seed, resolution=args.resolution
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.contact_sheet:
        contact_sheet(args.out, sorted(p.name for p in args.out.glob(f"{args.kind}-*.png"))[:64])
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
        "make datasets: `dataset prepare SRC --out DIR --size N`, `dataset synth --kind fluid`",
        add_dataset_arguments,
        cmd_dataset,
    ),
]
