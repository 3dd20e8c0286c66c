"""Faults in the writer: killed while saving, or out of disk space. Real child processes
save with the package's save_checkpoint; the files under the final names must always be
whole, and what the watcher then reads must never be a half-written model."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest
from safetensors.torch import load_file

from installation.checkpoints import CARD_FILE, WEIGHTS_FILE, ModelCard, load_checkpoint
from installation.live.validation import NotWhole, read_whole
from tests.live._hotswap_util import save, script, script_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and ulimit are POSIX")


def _assert_whole_files(folder):
    tensors = load_file(folder / WEIGHTS_FILE)  # a partial safetensors file does not parse
    assert tensors
    card = ModelCard.model_validate(json.loads((folder / CARD_FILE).read_text()))
    # A killed save may leave its hidden temp file behind, never anything under another name.
    assert {p.name for p in folder.iterdir() if not p.name.startswith(".")} == {
        CARD_FILE,
        WEIGHTS_FILE,
    }
    return card


def test_killed_while_saving_leaves_no_partial_file_under_the_final_name(tmp_path):
    out = tmp_path / "live"
    rng = random.Random(0)
    steps = []
    for _ in range(3):
        child = subprocess.Popen(script("save-loop", str(out)), env=script_env())
        try:
            deadline = time.monotonic() + 60
            while not (out / CARD_FILE).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))  # somewhere in a stream of saves
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        card = _assert_whole_files(out)
        steps.append(card.step)
        try:
            read_whole(out)  # the usual case: a matching pair
            assert load_checkpoint(out).version == card.step
        except NotWhole:
            pass  # killed between the weights' and the card's replace: both whole, not a pair
    assert steps[-1] >= 1


def test_a_full_disk_skips_the_save_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "live"
    save(out, step=1)
    before = {name: (out / name).read_bytes() for name in (CARD_FILE, WEIGHTS_FILE)}
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash for ulimit")
    # ulimit -f caps the size of any file the writer makes (in KiB): its next save cannot fit,
    # exactly as on a full disk, and the write fails with an OSError (EFBIG instead of ENOSPC).
    result = subprocess.run(
        [bash, "-c", 'ulimit -f 16; exec "$@"', "writer", *script("save", str(out), "--step", "2")],
        env=script_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "File too large" in result.stderr or "No space" in result.stderr
    after = {name: (out / name).read_bytes() for name in (CARD_FILE, WEIGHTS_FILE)}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == [CARD_FILE, WEIGHTS_FILE]  # temp file removed
    assert load_checkpoint(out).version == 1
