"""The folder watcher: reports a model folder only once it is stable, once per change."""

from __future__ import annotations

import os

from installation.checkpoints import WEIGHTS_FILE
from installation.live.watcher import FolderWatcher, model_folders
from tests.live._hotswap_util import save


def test_reported_after_stable_polls_and_once_per_change(tmp_path):
    watcher = FolderWatcher([tmp_path], stable_polls=2)
    assert watcher.poll() == []
    save(tmp_path, step=1)
    assert watcher.poll() == []  # first sighting: not yet known to be stable
    (candidate,) = watcher.poll()
    assert candidate.folder == tmp_path
    assert watcher.poll() == [candidate]  # not handled yet: offered again
    watcher.done(candidate)
    assert watcher.poll() == []
    save(tmp_path, step=2)
    assert watcher.poll() == []
    (again,) = watcher.poll()
    assert again.signature != candidate.signature


def test_a_growing_file_is_never_stable(tmp_path):
    save(tmp_path, step=1)
    watcher = FolderWatcher([tmp_path], stable_polls=2)
    with open(tmp_path / WEIGHTS_FILE, "ab") as fh:
        for _ in range(5):
            fh.write(b"x" * 10)
            fh.flush()
            assert watcher.poll() == []


def test_files_older_than_the_playing_model_are_a_baseline(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    save(old, step=1)
    save(new, step=2)
    os.utime(old / "card.json", (1_000_000, 1_000_000))
    os.utime(old / WEIGHTS_FILE, (1_000_000, 1_000_000))
    since = (new / "card.json").stat().st_mtime - 1
    watcher = FolderWatcher([tmp_path], stable_polls=1, since=since)
    assert [c.folder for c in watcher.poll()] == [new]


def test_drop_folders_and_archives(tmp_path):
    save(tmp_path / "a", step=1)
    save(tmp_path / "checkpoints" / "step-0000001", step=1)
    (tmp_path / ".partial").mkdir()
    (tmp_path / ".partial" / "card.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    assert model_folders(tmp_path) == [tmp_path / "a"]
    save(tmp_path, step=3)
    assert model_folders(tmp_path) == [tmp_path, tmp_path / "a"]


def test_newest_first_in_a_burst(tmp_path):
    for step in (1, 2, 3):
        save(tmp_path / f"m{step}", step=step)
        t = 2_000_000 + step
        for f in ("card.json", WEIGHTS_FILE):
            os.utime(tmp_path / f"m{step}" / f, (t, t))
    watcher = FolderWatcher([tmp_path], stable_polls=1)
    assert [c.folder.name for c in watcher.poll()] == ["m3", "m2", "m1"]
