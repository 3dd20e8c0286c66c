"""Real processes: a 2-process torchrun (gloo) run, and SIGTERM ending a run cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from installation.checkpoints import load_checkpoint
from installation.training.state import load_state

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


TINY = [
    "--dataset",
    "synthetic:shapes",
    "--synthetic-n",
    "12",
    "--resolution",
    "32",
    "--width",
    "8",
    "--latent-dim",
    "16",
    "--batch",
    "4",
    "--threads",
    "1",
    "--no-progress",
]


def test_two_process_torchrun_on_gloo_writes_a_checkpoint_that_loads(tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "installation",
        "train",
        "--arch",
        "gan",
        *TINY,
        "--steps",
        "3",
        "--save-every",
        "2",
        "--out",
        str(out),
    ]
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = load_checkpoint(out)
    assert model.card.step == 3
    assert model.card.command.startswith("torchrun --nproc_per_node=2 -m installation train")
    assert "rank 0 of 2 on cpu (gloo)" in proc.stderr
    # rank 0 alone wrote: one set of grids, the checkpoints it keeps, no stray temp files.
    # --save-every 2 in a 3-step run would leave one checkpoint: every run saves at least 3 times.
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-0000001",
        "step-0000002",
        "step-0000003",
    ]
    assert not list(out.rglob("*.tmp"))
    assert load_state(out)["step"] == 3


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs POSIX signals")
def test_sigterm_ends_training_after_the_current_step_with_whole_files(tmp_path):
    out = tmp_path / "m"
    cmd = [
        sys.executable,
        "-m",
        "installation",
        "train",
        "--arch",
        "gan",
        *TINY,
        "--steps",
        "100000",
        "--save-every",
        "1",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "card.json").exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert "stopping after this step" in stderr
    model = load_checkpoint(out)
    state = load_state(out)
    assert 1 <= model.card.step == state["step"] < 100000
    assert not list(out.rglob("*.tmp"))
