"""The show process under the kiosk supervisor: `python -m installation.kiosk.child`.

It starts as a warm standby: it imports the package (torch and all: most of a cold start),
then waits for one line of JSON on stdin from the supervisor, {argv, level, error, restarts,
state_dir}, and only then runs `installation run ARGV` with that spec in its environment
(kiosk/restore.py reads it). It dies with the supervisor (a parent-death signal on Linux,
training/lifeline.py's, and stdin reaching its end everywhere while it waits).
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys

from installation.kiosk.restore import SPEC_ENV
from installation.training.lifeline import set_parent_death_signal


def main() -> int:
    set_parent_death_signal()  # SIGKILL when the supervisor's thread that started us ends
    # A crash in native code (a segfault) prints every thread's Python stack into the
    # supervisor's log, so the still frame and the log can say more than "signal 11".
    faulthandler.enable()
    import installation.app  # noqa: F401  (the slow imports, done while standing by)
    from installation.cli import main as cli_main
    from installation.kiosk.heartbeat import HeartbeatSender

    ready = HeartbeatSender.from_env()  # "imports done": the supervisor may count on us
    if ready is not None:
        try:
            ready.sock.send(b'{"standby": true}')
        except OSError:
            pass
        ready.sock.detach()  # the fd stays open for the show's own sender
    line = sys.stdin.readline()
    if not line:  # the supervisor went away before it needed us
        return 0
    spec = json.loads(line)
    os.environ[SPEC_ENV] = line.strip()
    from installation.kiosk.memprobe import arm_from_env

    arm_from_env()  # only where the soak asks for it
    return cli_main(spec["argv"])


if __name__ == "__main__":
    sys.exit(main())
