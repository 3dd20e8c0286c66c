"""Noticing new checkpoints in watched folders, whoever writes them and however.

A trainer in a child process, another program, or rsync/scp from another machine may be
writing into a watched model folder at any moment. Atomic writers (save_checkpoint, rsync
without --inplace) replace whole files under their final names, but scp writes in place,
byte by byte, and a copy of a folder lands one file at a time. So the watcher only reports a
folder once both of its files exist and neither has changed (size, mtime, inode) for
`stable_polls` consecutive polls; whoever reads it then still checks the card's sha256
against the weights (validation.read_whole) before anything is loaded.

Polling, not inotify: it works the same on every OS and on network mounts, and a model
arriving half a second later is invisible to an audience.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from installation.files import CARD_FILE, WEIGHTS_FILE

log = logging.getLogger(__name__)

# Sub-folders of a watched folder that hold archives, not the latest model.
_SKIP_DIRS = {"checkpoints", "samples"}

FileSig = tuple[int, int, int]  # size, mtime_ns, inode


@dataclass(frozen=True)
class Candidate:
    """A model folder whose two files have been stable for a while."""

    folder: Path
    signature: tuple[FileSig, FileSig]  # card, weights

    @property
    def mtime(self) -> float:
        """The newer of the two files' modification times, in seconds."""
        return max(self.signature[0][1], self.signature[1][1]) / 1e9


def _stat(path: Path) -> FileSig | None:
    try:
        st = os.stat(path)
    except OSError:  # missing, or vanished between listing and stat (an atomic replace)
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def folder_signature(folder: Path) -> tuple[FileSig, FileSig] | None:
    card, weights = _stat(folder / CARD_FILE), _stat(folder / WEIGHTS_FILE)
    if card is None or weights is None:
        return None
    return card, weights


def model_folders(root: Path) -> list[Path]:
    """`root` itself if it is a model folder, plus model folders directly inside it (a drop
    folder that whole model folders are copied into)."""
    found = []
    if (root / CARD_FILE).exists() or (root / WEIGHTS_FILE).exists():
        found.append(root)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or entry.name in _SKIP_DIRS:
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir and (Path(entry.path) / CARD_FILE).exists():
            found.append(Path(entry.path))
    return found


class FolderWatcher:
    """Polls folders; `poll()` returns the stable, not-yet-handled candidates, newest first.

    A candidate keeps being returned until `done(candidate)` is called for its signature,
    so a reader that finds it not yet whole (hash mismatch) simply looks again next poll.
    Folders already present when the watcher starts are a baseline (not reported) unless
    their files are newer than `since`. While some folders are still changing, the ready
    ones are held back for up to `burst_s` seconds, so a burst ends in one report.
    """

    def __init__(
        self,
        roots: Iterable[Path],
        stable_polls: int = 2,
        since: float | None = None,
        burst_s: float = 0.0,
    ) -> None:
        self.roots = list(dict.fromkeys(Path(r) for r in roots))
        self.stable_polls = stable_polls
        self.burst_s = burst_s
        self._waiting_since: float | None = None
        self._since = since
        self._seen: dict[
            Path, tuple[tuple[FileSig, FileSig], int]
        ] = {}  # signature, polls unchanged
        self._done: dict[Path, tuple[FileSig, FileSig]] = {}
        self._first = True

    def poll(self) -> list[Candidate]:
        folders = [f for root in self.roots for f in model_folders(root)]
        ready: list[Candidate] = []
        unsettled = 0
        for folder in dict.fromkeys(folders):
            sig = folder_signature(folder)
            if sig is None:
                self._seen.pop(folder, None)
                continue
            previous = self._seen.get(folder)
            count = previous[1] + 1 if previous is not None and previous[0] == sig else 1
            self._seen[folder] = (sig, count)
            candidate = Candidate(folder, sig)
            if self._first and self._since is not None and candidate.mtime <= self._since:
                self._done[folder] = sig  # baseline: what was there before the show started
                continue
            if self._done.get(folder) == sig:
                continue
            # Stable: the same size, mtime and inode at `stable_polls` looks in a row.
            if count >= self.stable_polls:
                ready.append(candidate)
            else:
                unsettled += 1
        # Folders that vanished are forgotten, so one that comes back is news again (and a
        # drop folder that is deleted after use costs nothing: the soak of issue 16 saw these
        # maps grow with every drop).
        for gone in (set(self._seen) | set(self._done)) - set(folders):
            self._seen.pop(gone, None)
            self._done.pop(gone, None)
        self._first = False
        # A burst (several checkpoints arriving one after another): while others are still
        # changing, hold the ready ones back (up to burst_s), so one swap plays the newest.
        now = time.monotonic()
        if not ready:
            self._waiting_since = None
        elif unsettled and self.burst_s > 0:
            self._waiting_since = self._waiting_since or now
            if now - self._waiting_since < self.burst_s:
                return []
        ready.sort(key=lambda c: c.mtime, reverse=True)
        return ready

    def done(self, candidate: Candidate) -> None:
        """Handled (played, rejected or superseded): not reported again until it changes."""
        self._done[candidate.folder] = candidate.signature
