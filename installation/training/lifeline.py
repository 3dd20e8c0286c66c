"""A trainer started by a show dies with the show (issue 16: an orphan trainer, ppid 1,
went on writing the folder that the next night's trainer wrote too).

The parent (live/supervisor.py) puts its pid in the child's environment and keeps the write
end of a pipe that is the child's stdin; it never writes to it. The child (`installation
train`) arms two lifelines at start:

- Linux: prctl(PR_SET_PDEATHSIG, SIGKILL), then checks its parent is still the pid it was
  given (the parent may have died between fork and prctl, and then no signal would come).
  SIGKILL, not SIGTERM: a paused trainer (SIGSTOP) cannot handle SIGTERM, and checkpoints
  are written atomically, so at most the steps since the last save are lost. The kernel
  sends it when the parent *thread* that started the child ends: the supervisor thread,
  which outlives its child by design.
- everywhere: a thread that reads stdin; end of file means the parent is gone (the kernel
  closes a dead process's pipe ends on every OS), and training stops after its step.

The same pipe carries the one thing a show asks of a running trainer: a line `threads N`
(the kiosk schedule: every core outside show hours, the show-hours share again when the
show opens). The reading thread only records it; the training loop takes it between
steps (`take_threads`) and sets torch's thread count on its own thread, where OpenMP
keeps it. Anything else on the pipe is ignored.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

PARENT_ENV = "INSTALLATION_PARENT_PID"  # the pid that must outlive us
LIFELINE_ENV = "INSTALLATION_LIFELINE"  # "stdin": the parent holds our stdin's write end
PR_SET_PDEATHSIG = 1
# After a graceful stop is asked for, the longest a child may take before it exits anyway.
HARD_EXIT_AFTER_S = 30.0


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child that must die with this process (whose stdin is a pipe
    this process keeps open)."""
    return {**env, PARENT_ENV: str(os.getpid()), LIFELINE_ENV: "stdin"}


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Linux only: have the kernel send `sig` when our parent ends. False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
            return False
    except (OSError, AttributeError) as exc:
        log.warning("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)
        return False
    return True


def _orphaned(parent: int, stop: Callable[[], None], why: str) -> None:
    log.error("the show that started this trainer (pid %d) is gone (%s): stopping", parent, why)
    stop()
    # However the run is stuck (loading a dataset, a hung device), it does not outlive this.
    timer = threading.Timer(HARD_EXIT_AFTER_S, os._exit, args=(3,))
    timer.daemon = True
    timer.start()


_threads: list[int] = []  # the newest `threads N` the parent asked for, not yet taken


def take_threads() -> int | None:
    """The CPU thread count the show asked for since the last call (None: no change)."""
    return _threads.pop() if _threads else None


def read_requests(fd: int) -> None:
    """Read the parent's lines until end of file (the parent is gone)."""
    pending = b""
    try:
        while chunk := os.read(fd, 4096):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                words = line.split()
                if len(words) == 2 and words[0] == b"threads" and words[1].isdigit():
                    _threads[:] = [max(1, int(words[1]))]
    except (OSError, ValueError):
        pass


def _watch_stdin(parent: int, stop: Callable[[], None]) -> None:
    try:
        read_requests(sys.stdin.fileno())
    except ValueError:  # stdin closed in this process
        pass
    _orphaned(parent, stop, "its pipe closed")


def arm_from_env(stop: Callable[[], None]) -> bool:
    """Arm the lifelines a parent asked for through the environment (none: a trainer run by
    hand, which lives as long as its user wants). `stop` ends training gracefully. Returns
    whether any was armed."""
    # Popped: our own children (data-loader workers, ...) must not take the show for theirs.
    text = os.environ.pop(PARENT_ENV, "")
    lifeline = os.environ.pop(LIFELINE_ENV, "")
    if not text.isdigit():
        return False
    parent = int(text)
    if set_parent_death_signal():
        if os.getppid() != parent:  # it died before prctl took effect: no signal will come
            log.error(
                "the show that started this trainer (pid %d) is already gone: exiting", parent
            )
            os._exit(3)
    if lifeline == "stdin" and sys.stdin is not None:
        threading.Thread(
            target=_watch_stdin, args=(parent, stop), name="lifeline", daemon=True
        ).start()
    return True
