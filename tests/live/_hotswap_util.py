"""Helpers for the hotswap tests, importable and runnable as a separate process.

As a script it plays the *other* process of a test, with the package's real code:
  save OUT --step N [--seed S]         write a good checkpoint with save_checkpoint
  save-loop OUT                        save checkpoints forever, steps 1, 2, 3 ... (killed by the test)
  slow-copy SRC DST --chunks N --delay S   copy a model folder in place, chunk by chunk, like scp
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from installation.checkpoints import CARD_FILE, WEIGHTS_FILE, save_checkpoint
from installation.networks import build_model

TINY = {"latent_dim": 16, "resolution": 32, "width": 8, "channels": 3}
HERE = Path(__file__).resolve().parent


def make_model(seed: int, config: dict | None = None) -> torch.nn.Module:
    """A small DCGAN whose BatchNorm statistics are calibrated on random latents, so that
    different latents give visibly different pictures (a fresh init is nearly collapsed)."""
    torch.manual_seed(seed)
    module = build_model("dcgan", config or TINY)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batch
    module.train()
    with torch.no_grad():
        module.decode(torch.randn(64, module.latent_dim))
    return module.eval()


def save(
    folder: Path, step: int, seed: int | None = None, name: str = "live", config: dict | None = None
) -> None:
    module = make_model(step if seed is None else seed, config)
    save_checkpoint(
        folder, module, name=name, architecture="dcgan", config=config or TINY, step=step
    )


def script_env() -> dict[str, str]:
    """Environment for a child process that imports this worktree's package."""
    env = dict(os.environ)
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def script(*args: str) -> list[str]:
    return [sys.executable, str(HERE / "_hotswap_util.py"), *args]


def _slow_copy(src: Path, dst: Path, chunks: int, delay: float) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in (CARD_FILE, WEIGHTS_FILE):  # card first: the worst order for a reader
        data = (src / name).read_bytes()
        size = -(-len(data) // chunks)
        with open(dst / name, "wb") as fh:
            for i in range(0, len(data), size):
                fh.write(data[i : i + size])
                fh.flush()
                time.sleep(delay)


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save")
    s.add_argument("out", type=Path)
    s.add_argument("--step", type=int, required=True)
    s.add_argument("--seed", type=int)
    s = sub.add_parser("save-loop")
    s.add_argument("out", type=Path)
    s = sub.add_parser("slow-copy")
    s.add_argument("src", type=Path)
    s.add_argument("dst", type=Path)
    s.add_argument("--chunks", type=int, default=10)
    s.add_argument("--delay", type=float, default=0.1)
    args = p.parse_args()
    if args.cmd == "save":
        save(args.out, args.step, args.seed)
    elif args.cmd == "save-loop":
        models = [make_model(seed) for seed in range(3)]
        step = 0
        while True:
            step += 1
            save_checkpoint(
                args.out,
                models[step % 3],
                name="live",
                architecture="dcgan",
                config=TINY,
                step=step,
            )
    else:
        _slow_copy(args.src, args.dst, args.chunks, args.delay)


if __name__ == "__main__":
    main()
