"""Tell a foreign generator file's format from its first bytes and read it as plain data.

- NVIDIA network pickle (`.pkl`, pickle protocol 2-5): the restricted unpickler.
- torch.save file (zip, or the legacy pickle with torch's magic number): rosinality's
  stylegan2-pytorch `.pt`, read with torch.load(weights_only=True) only.
- safetensors: a StyleGAN state dict with its init kwargs in the metadata.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

from installation.importing import nvidia, rosinality
from installation.importing.imported import Imported, ImportRefused, check_header_shapes
from installation.importing.safe_pickle import RefusedPickle, read_network_pickle

# torch.save's legacy format starts with a pickled magic number (a protocol-2 long).
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def sniff(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04" or data.startswith(_TORCH_LEGACY_MAGIC):
        return "torch"
    if len(data) >= 10:
        (header_len,) = struct.unpack("<Q", data[:8])
        if 2 <= header_len <= len(data) - 8 and data[8:9] == b"{":
            return "safetensors"
    if data[:1] == b"\x80" and len(data) > 2 and 2 <= data[1] <= 5:
        return "pickle"
    if not data:
        return "empty"
    return "unknown"


def read_any(data: bytes, source: Path) -> Imported:

    kind = sniff(data)
    if kind == "pickle":
        snapshot = read_network_pickle(data)
        key, record = nvidia.pick_generator(snapshot)
        arch, config = nvidia.generator_config(record)
        tensors, derived = nvidia.split_derived(nvidia.collect_tensors(record))
        notes = [f"generator {key} of an NVIDIA network snapshot"]
        return Imported(arch, config, tensors, "nvidia-pickle", notes=notes, derived=derived)
    if kind == "torch":
        return rosinality.read_rosinality(data)
    if kind == "safetensors":
        return read_stylegan_safetensors(data)
    if kind == "empty":
        raise RefusedPickle("the file is empty")
    raise RefusedPickle(
        f"unrecognised file format (first bytes {data[:8]!r}); expected an NVIDIA .pkl, "
        "a rosinality .pt or a StyleGAN .safetensors"
    )


def read_stylegan_safetensors(data: bytes) -> Imported:
    """A safetensors StyleGAN state dict. Its metadata names the network either as this
    package does (`architecture` + `config`, JSON) or as NVIDIA's code would build it
    (`init_kwargs`, the Generator's kwargs as JSON, with NVIDIA's tensor names)."""
    from safetensors.torch import load as load_safetensors

    (header_len,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RefusedPickle(f"the safetensors header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise RefusedPickle("the safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    names = set(header)
    if "init_kwargs" in meta:
        kwargs = _json_field(meta, "init_kwargs")
        arch, config = nvidia.config_from_kwargs(kwargs, sg3="synthesis.input.weight" in names)
    else:
        arch = meta.get("architecture", "")
        if arch not in ("stylegan2", "stylegan3-t", "stylegan3-r"):
            raise RefusedPickle(
                f"the safetensors metadata names architecture {arch!r} and has no init_kwargs; "
                "expected stylegan2, stylegan3-t or stylegan3-r"
            )
        config = _json_field(meta, "config")
    # The header's shapes are compared with the config's before any tensor is decoded.

    shapes = {k: tuple(v.get("shape", ())) for k, v in header.items() if isinstance(v, dict)}
    check_header_shapes(
        arch, config, {k: v for k, v in shapes.items() if not k.endswith(nvidia.DERIVED_SUFFIXES)}
    )
    try:
        tensors = load_safetensors(bytes(data))
    except Exception as exc:  # safetensors raises its own error type for any bad header
        raise RefusedPickle(f"not a valid safetensors file ({exc})") from None
    kept, derived = nvidia.split_derived(tensors)
    licence = str(meta.get("license", meta.get("licence", "")))[:500]
    return Imported(arch, config, kept, "safetensors", licence=licence, derived=derived)


def _json_field(meta: dict, name: str) -> dict:
    try:
        value = json.loads(meta.get(name, ""))
    except (TypeError, json.JSONDecodeError):
        raise RefusedPickle(f"the safetensors metadata field {name!r} is not JSON") from None
    if not isinstance(value, dict):
        raise RefusedPickle(f"the safetensors metadata field {name!r} is not a JSON object")
    return value


def check_derived_filters(imported: Imported, module: torch.nn.Module, source: Path) -> None:
    """The file's fixed filters must be the ones our config designs (else it is a variant)."""

    ours = dict(module.named_buffers())
    for key, theirs in imported.derived.items():
        mine = ours.get(key.replace("resample_filter", "blur"))
        if mine is not None and mine.ndim == 1 and theirs.ndim == 2:
            mine = torch.outer(mine, mine)  # ours is the separable form of the same filter
        if (
            mine is None
            or mine.shape != theirs.shape
            or not torch.allclose(mine.float(), theirs.float(), atol=1e-5)
        ):
            raise ImportRefused(
                f"{source}: filter {key} differs from the one its config designs "
                "(a StyleGAN variant this package does not reproduce)"
            )
