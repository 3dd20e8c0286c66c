"""A stand-in for `installation train` in the supervisor tests (stdlib only: starts fast).

_fake_trainer.py OUT --mode good    mark the start with a file, run until SIGTERM
_fake_trainer.py OUT --mode raise   print to stderr, then raise (exit code 1)
_fake_trainer.py OUT --mode hang    like good, but ignore SIGTERM
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from installation.training.lifeline import arm_from_env, take_threads  # stdlib only


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--mode", choices=["good", "raise", "hang"], default="good")
    args = p.parse_args()
    if args.mode == "raise":
        sys.stderr.write("step 3: loss is NaN\n")
        raise RuntimeError("training diverged")
    stop = []
    arm_from_env(lambda: stop.append(1))  # dies with its parent, as the real trainer does
    signal.signal(
        signal.SIGTERM, signal.SIG_IGN if args.mode == "hang" else (lambda *_: stop.append(1))
    )
    n = len(list(args.out.glob("started-*")))
    (args.out / f"started-{n}").touch()
    while not stop:
        time.sleep(0.05)
        threads = take_threads()  # between "steps", as the real trainer takes it
        if threads is not None:
            print(f"asked for {threads} thread(s)", flush=True)


if __name__ == "__main__":
    main()
