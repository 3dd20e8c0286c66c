"""One writer per training folder: a lock file that refuses a second trainer.

Two trainers in one folder interleave their logs and save over each other's steps (issue
16: an orphaned trainer and the next night's). `train.lock` in the folder is held with an OS
lock (flock on POSIX, msvcrt on Windows) for as long as the trainer runs; the kernel drops
it when the process dies however it dies, so a lock left by a dead pid is recognised as
stale and taken over. The file says who holds it (pid, host, since when), so the refusal
can name the other writer.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

LOCK_FILE = "train.lock"
_WIN_LOCK_OFFSET = 1 << 20  # Windows locks are mandatory: lock a byte past the text we read


class FolderLocked(RuntimeError):
    """Another live process is training into this folder."""


def _try_lock(fh: IO[str]) -> bool:
    if os.name == "nt":
        import msvcrt

        fh.seek(_WIN_LOCK_OFFSET)
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        # flock, not lockf: a POSIX record lock is dropped when the process closes *any*
        # descriptor of the file, and reading who holds it opens one.
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return text


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class WriterLock:
    """`with WriterLock(folder):` while training into `folder`; raises FolderLocked."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._fh: IO[str] | None = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # never truncate what another holds
        if not _try_lock(fh):
            fh.close()
            holder = _holder(self.path) or "a process that did not say who it is"
            raise FolderLocked(
                f"{self.path.parent} is being written by another trainer ({holder}); "
                f"stop that one first, or train into another --out (lock: {self.path})"
            )
        fh.seek(0)
        previous = fh.read().strip()
        pid = previous.split()[1] if previous.startswith("pid ") else ""
        if pid.isdigit() and int(pid) != os.getpid():
            alive = (
                "still running, without the lock" if _pid_alive(int(pid)) else "no longer running"
            )
            log.info("taking over a stale lock on %s: %s (%s)", self.path.parent, previous, alive)
        fh.seek(0)
        fh.truncate()
        fh.write(
            f"pid {os.getpid()} on {socket.gethostname()} since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        )
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is None:
            return
        # The file stays (unlinking it would let a waiting opener lock an orphaned inode);
        # emptied, it names no holder.
        try:
            self._fh.seek(0)
            self._fh.truncate()
        except OSError:
            pass
        self._fh.close()  # closing drops the OS lock
        self._fh = None
