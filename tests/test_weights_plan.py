"""A small card cannot make the show allocate a big network (issue 16, item 2): the card's
config is compared with the safetensors header before anything is built or loaded."""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_safetensors

from installation.checkpoints import CARD_FILE, WEIGHTS_FILE, CheckpointError, load_checkpoint
from installation.networks import ARCHITECTURES, build_model
from installation.weights_plan import (
    PlanError,
    TensorSpec,
    check_plan,
    planned_tensors,
    read_header,
)
from tests.live._hotswap_util import script_env
from tests.test_checkpoints import rewrite_weights

from .conftest import make_model


def bomb(folder: Path, width: int) -> Path:
    """The shipped-size weights under a card whose config asks for a far wider network
    (the card's sha256 still matches: only the config lies)."""
    card = json.loads((folder / CARD_FILE).read_text())
    card["config"]["width"] = width
    (folder / CARD_FILE).write_text(json.dumps(card))
    return folder


def test_a_card_asking_for_a_huge_network_is_refused_before_it_is_built(tmp_path, monkeypatch):
    folder = bomb(make_model(tmp_path / "m"), width=1024)
    built = []
    monkeypatch.setattr("installation.checkpoints.build_model", lambda *a: built.append(a))
    with pytest.raises(CheckpointError, match="the architecture needs") as refused:
        load_checkpoint(folder)
    assert str(folder) in str(refused.value) and "elements" in str(refused.value)
    assert built == []  # refused from the header and the meta plan alone


PEAK = """
import resource, sys
from installation.checkpoints import CheckpointError, load_checkpoint
load_checkpoint(sys.argv[1])  # warm: every import and allocator pool paid for
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_checkpoint(sys.argv[2])
except CheckpointError:
    pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_refusing_a_width_4096_card_costs_almost_no_memory(tmp_path):
    good = make_model(tmp_path / "good")
    evil = bomb(make_model(tmp_path / "evil"), width=4096)  # ~9 GB if it were built
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(good), str(evil)],
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert float(out.stdout.strip()) < 100, out.stdout  # peak RSS growth in MB


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_the_meta_plan_of_every_registered_architecture_is_its_real_state_dict(architecture):
    config_class, _ = ARCHITECTURES[architecture]
    config = dataclasses.asdict(config_class())  # its defaults
    real = build_model(architecture, config).state_dict()
    plan = planned_tensors(architecture, config)
    assert plan == {k: TensorSpec(tuple(v.shape), v.is_floating_point()) for k, v in real.items()}


def _file(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    "data,words",
    [
        (b"\x01\x02", "too short"),
        (struct.pack("<Q", 1 << 40) + b"{}", "header claims"),
        (
            _file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
            "needs 8 bytes",
        ),
        (
            _file({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 40),
            "the file has 40",
        ),
        (
            _file(
                {
                    "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                    "v": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                },
                b"\0" * 8,
            ),
            "overlap",
        ),
        (
            _file({"w": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
            "unsupported dtype",
        ),
        (
            _file({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
            "not a list of sizes",
        ),
        (_file([1, 2]), "not a JSON object"),
        (struct.pack("<Q", 3) + b"{{{", "not JSON"),
    ],
)
def test_a_lying_header_is_refused(data, words):
    with pytest.raises(PlanError, match=words):
        read_header(data)


def test_a_header_that_lies_inside_a_whole_checkpoint_is_refused(tmp_path):
    folder = make_model(tmp_path / "m")
    tensors = {"w": torch.zeros(3)}
    rewrite_weights(folder, save_safetensors(tensors))
    with pytest.raises(CheckpointError, match="do not match the architecture"):
        load_checkpoint(folder)


def test_the_header_of_a_real_file_is_its_tensors(tmp_path):
    folder = make_model(tmp_path / "m")
    stored = read_header((folder / WEIGHTS_FILE).read_bytes())
    card = json.loads((folder / CARD_FILE).read_text())
    check_plan(planned_tensors(card["architecture"], card["config"]), stored)  # agrees: no error
