"""`installation import` refuses hostile and broken files: one clear message, exit 2, nothing
written, and a canary file that any code from the file would have created stays absent.

The hostile pickles are written opcode by opcode here (no class of ours is pickled), so each
test shows exactly which global or blob the file names.
"""

from __future__ import annotations

import io
import json
import pickle
import resource
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_safetensors

from installation.cli import main
from installation.importing import importer

DATA = Path(__file__).parent.parent / "data" / "stylegan"


def _body(obj: object) -> bytes:
    """The opcodes that push `obj` (a protocol-3 pickle without its header and STOP)."""
    raw = pickle.dumps(obj, protocol=3)
    assert raw[:2] == b"\x80\x03" and raw[-1:] == b"."
    return raw[2:-1]


def call_global(module: str, name: str, *args: object) -> bytes:
    """A pickle that calls module.name(*args) when loaded by an unrestricted unpickler."""
    return b"\x80\x03" + b"c" + f"{module}\n{name}\n".encode() + _body(tuple(args)) + b"R" + b"."


def snapshot_with(g_ema_opcodes: bytes) -> bytes:
    """{'G_ema': <object built by the opcodes>}, as a snapshot dict would hold it."""
    return b"\x80\x03}" + _body("G_ema") + g_ema_opcodes[2:-1] + b"s."


class _Gadget:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def _run(
    tmp_path: Path, payload: bytes, capsys: pytest.CaptureFixture[str], suffix: str = ".pkl"
) -> str:
    src = tmp_path / f"hostile{suffix}"
    src.write_bytes(payload)
    out = tmp_path / "models" / "imported"
    code = main(["import", str(src), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert (
        err.count("\n") == 0 and err.startswith("installation: error: ") and "Traceback" not in err
    )
    assert not out.exists(), "a refused import wrote a model folder"
    return err


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), "code from the file ran"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("posix", "system"),
        ("os", "system"),
        ("builtins", "exec"),
        ("subprocess", "Popen"),
        ("subprocess", "check_call"),
    ],
)
def test_reduce_of_a_global_off_the_allow_list(
    module: str, name: str, tmp_path: Path, canary: Path, capsys
) -> None:
    arg = f"open({str(canary)!r}, 'w')" if name == "exec" else f"touch {canary}"
    err = _run(tmp_path, snapshot_with(call_global(module, name, arg)), capsys)
    assert f"{module}.{name}" in err and "allow-list" in err


def test_persistent_object_whose_source_would_write_a_file(
    tmp_path: Path, canary: Path, capsys
) -> None:
    source = f"open({str(canary)!r}, 'w').write('ran')\nclass Generator:\n    pass\n"
    meta = {
        "type": "class",
        "version": 4,
        "module_src": source,
        "class_name": "Generator",
        "state": {},
    }
    err = _run(
        tmp_path,
        snapshot_with(call_global("torch_utils.persistence", "_reconstruct_persistent_obj", meta)),
        capsys,
    )
    assert "'Generator'" in err and "open(" in err and "nothing was run" in err


def test_gadget_hidden_in_a_storage_blob(tmp_path: Path, canary: Path, capsys) -> None:
    blob = io.BytesIO()
    torch.save(_Gadget(f"touch {canary}"), blob)  # a torch.save file whose pickle calls os.system
    err = _run(
        tmp_path,
        snapshot_with(call_global("torch.storage", "_load_from_bytes", blob.getvalue())),
        capsys,
    )
    assert "storage blob" in err and "system" in err


def test_pickle_without_a_generator(tmp_path: Path, canary: Path, capsys) -> None:
    err = _run(
        tmp_path, pickle.dumps({"D": None, "training_set_kwargs": {"resolution": 256}}), capsys
    )
    assert "no generator" in err and "D, training_set_kwargs" in err


def test_tensorflow_era_pickle_says_how_to_convert(tmp_path: Path, canary: Path, capsys) -> None:
    payload = snapshot_with(call_global("dnnlib.tflib.network", "Network"))
    err = _run(tmp_path, payload, capsys)
    assert "TensorFlow-era" in err and "legacy.py" in err and "dnnlib.tflib.network.Network" in err


def test_truncated_snapshot(tmp_path: Path, canary: Path, capsys) -> None:
    data = (DATA / "sg2.pkl").read_bytes()
    err = _run(tmp_path, data[: len(data) // 2], capsys)
    assert "truncated" in err


def test_truncated_rosinality_checkpoint(tmp_path: Path, canary: Path, capsys) -> None:
    data = (DATA / "rosinality.pt").read_bytes()
    err = _run(tmp_path, data[: len(data) // 2], capsys, ".pt")
    assert "truncated or damaged" in err


def test_file_over_the_size_cap(
    tmp_path: Path, canary: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "MAX_IMPORT_BYTES", 100_000)
    err = _run(tmp_path, (DATA / "sg2.pkl").read_bytes(), capsys)
    assert "over the import cap" in err


def test_generator_config_outside_the_schema(tmp_path: Path, canary: Path, capsys) -> None:
    # The same snapshot with one init kwarg renamed in place (same length, same opcodes).
    data = (DATA / "sg2.pkl").read_bytes()
    key = b"\x8c\x0bchannel_max"
    assert key in data
    err = _run(tmp_path, data.replace(key, b"\x8c\x0bchannel_mix", 1), capsys)
    assert "schema" in err and "channel_mix" in err


def _safetensors(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    return save_safetensors(tensors, metadata=metadata)


def test_a_small_config_cannot_allocate_gigabytes(tmp_path: Path, canary: Path, capsys) -> None:
    """A few-KB file whose config asks for a 1024 px, 4096-channel StyleGAN2: refused from
    the computed shapes, before anything is built (peak RSS barely moves)."""
    config = dict(
        z_dim=512,
        w_dim=512,
        resolution=1024,
        channels=3,
        channel_base=2**20,
        channel_max=4096,
        mapping_layers=8,
        mapping_lr=0.01,
        conv_clamp=256.0,
    )
    payload = _safetensors(
        {"mapping.w_avg": torch.zeros(512)},
        {"architecture": "stylegan2", "config": json.dumps(config)},
    )
    assert len(payload) < 4096
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    err = _run(tmp_path, payload, capsys, ".safetensors")
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "over the cap" in err and "parameters" in err
    assert grew_mb < 50


def test_config_that_disagrees_with_the_file_tensors(tmp_path: Path, canary: Path, capsys) -> None:
    config = dict(
        z_dim=32,
        w_dim=32,
        resolution=64,
        channels=3,
        channel_base=512,
        channel_max=16,
        mapping_layers=2,
        mapping_lr=0.01,
        conv_clamp=256.0,
    )
    payload = _safetensors(
        {"mapping.w_avg": torch.zeros(32)},
        {"architecture": "stylegan2", "config": json.dumps(config)},
    )
    err = _run(tmp_path, payload, capsys, ".safetensors")
    assert "do not match its config" in err


def test_unknown_format(tmp_path: Path, canary: Path, capsys) -> None:
    err = _run(tmp_path, b"GIF89a not a model", capsys, ".pkl")
    assert "unrecognised file format" in err


def test_safetensors_header_length_lies(tmp_path: Path, canary: Path, capsys) -> None:
    payload = (
        struct.pack("<Q", 40)
        + b'{"a": {"dtype": "F32", "shape": [999999999], "data_offsets": [0, 4]}}'
    )
    err = _run(tmp_path, payload, capsys, ".safetensors")
    assert "safetensors" in err
