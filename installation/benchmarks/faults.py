"""Faults and hostile input (issue 16).

candidate_outcomes_fraction  of checkpoints dropped into a running show's watched folder
                             beside a trainer saving every second (half of them corrupt,
                             the valid ones rsync-style with an hour-old mtime), the
                             fraction that got an outcome event: reject, superseded or swap.
                             Must be 1.0.
card_bomb_peak_mb            extra peak RSS of a process refusing a card whose config asks
                             for width 4096 (the shipped weights under it): target < 50 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, Skipped, benchmark
from installation.checkpoints import CARD_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint
from installation.config.show import parse_show
from installation.stats import read_stats

DROPS = 24
DROP_EVERY_S = 0.5
TRAINER_EVERY_S = 1.0
SETTLE_S = 8.0  # after the last drop: the give-up time of a never-whole file, and slack

PEAK = """
import sys
from installation.checkpoints import CheckpointError, load_checkpoint

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    raise KeyError(key)

load_checkpoint(sys.argv[1])  # every import and allocator pool paid for
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets VmHWM, the peak, to the current RSS
except OSError:
    sys.exit("cannot reset the peak RSS (/proc/self/clear_refs)")
before = status("VmRSS")
try:
    load_checkpoint(sys.argv[2])
    sys.exit("the bomb was accepted")
except CheckpointError:
    pass
print(status("VmHWM") - before)
"""


def _model_folder(ctx: BenchContext) -> Path:
    folder = ctx.show.resolve(ctx.show.model.path)
    if not (folder / CARD_FILE).exists():
        raise Skipped(f"no model at {folder}")
    return folder


@benchmark("card_bomb_peak_mb")
def card_bomb(ctx: BenchContext) -> dict[str, float]:
    if not sys.platform.startswith("linux"):
        raise Skipped("peak RSS is read from Linux's /proc/self/status")
    source = _model_folder(ctx)
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb"
        shutil.copytree(source, bomb)
        card = json.loads((bomb / CARD_FILE).read_text())
        if "width" not in card["config"]:
            raise Skipped(f"{source} has no width in its config ({card['architecture']})")
        card["config"]["width"] = 4096
        (bomb / CARD_FILE).write_text(json.dumps(card))
        out = subprocess.run(
            [sys.executable, "-c", PEAK, str(source), str(bomb)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        if out.returncode != 0:
            raise RuntimeError(
                out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode
            )
        return {"card_bomb_peak_mb": float(out.stdout.strip())}


def _drop(source: Path, dst: Path, index: int) -> None:
    """Valid drops are copies with their own name and an hour-old mtime; the odd ones are
    corrupt: a flipped byte (never whole) or a card asking for another shape."""
    staging = dst.parent / f".staging-{dst.name}"
    shutil.copytree(source, staging)
    card = json.loads((staging / CARD_FILE).read_text())
    card.update(name=dst.name, step=1000 + index)
    if index % 4 == 1:
        data = bytearray((staging / WEIGHTS_FILE).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (staging / WEIGHTS_FILE).write_bytes(bytes(data))
    elif index % 4 == 3:
        card["config"]["latent_dim"] = card["config"].get("latent_dim", 8) + 1
    (staging / CARD_FILE).write_text(json.dumps(card))
    if index % 2 == 0:
        hour_ago = time.time() - 3600
        for f in staging.iterdir():
            os.utime(f, (hour_ago, hour_ago))
    staging.rename(dst)


def _trainer(source: Path, out: Path, stop: threading.Event) -> None:
    model = load_checkpoint(source)
    params = list(model.module.parameters())
    step = 0
    while not stop.wait(TRAINER_EVERY_S):
        step += 1
        with torch.no_grad():  # a training step's worth of change: new weights, new hash
            for p in params:
                p.mul_(1.0 + 1e-3 * torch.randn_like(p))
        save_checkpoint(
            out,
            model.module,
            name="live",
            architecture=model.card.architecture,
            config=model.card.config,
            step=step,
        )


@benchmark("candidate_outcomes_fraction")
def candidate_outcomes(ctx: BenchContext) -> dict[str, float]:
    source = _model_folder(ctx)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(source, root / "models" / "show")
        (root / "incoming").mkdir()
        data = {
            "model": {"path": "models/show", "device": "cpu"},
            "display": {"fps": 30, "fullscreen": False, "vsync": False},
            "hotswap": {
                "watch": ["incoming", "live"],
                "poll_s": 0.2,
                "give_up_s": 3.0,
                "crossfade_s": 0.5,
            },
            "osc": {"enabled": False},
            "midi": {"enabled": False},
        }
        stats = root / "stats.jsonl"
        runtime = ShowRuntime(
            parse_show(data, base_dir=root), RunOptions(headless=True, size=(64, 64), stats=stats)
        )
        stop = threading.Event()
        writer = threading.Thread(target=_trainer, args=(source, root / "live", stop), daemon=True)
        try:
            loop = runtime.build_loop()
            runtime.start_services()
            writer.start()
            start, dropped = time.monotonic(), []
            while time.monotonic() - start < DROPS * DROP_EVERY_S + SETTLE_S:
                loop.step()
                due = min(DROPS, int((time.monotonic() - start) / DROP_EVERY_S))
                while len(dropped) < due:
                    dst = root / "incoming" / f"drop{len(dropped):02d}"
                    _drop(source, dst, len(dropped))
                    dropped.append(dst)
                time.sleep(1 / 30)
        finally:
            stop.set()
            writer.join()
            runtime.close()
        events = read_stats(stats)[1]
        decided = {e["folder"] for e in events if e["event"] in ("reject", "superseded")}
        decided |= {
            str(root / "incoming" / e["model"]["id"]) for e in events if e["event"] == "swap"
        }
        return {
            "candidate_outcomes_fraction": sum(str(d) in decided for d in dropped) / len(dropped)
        }
