"""What a checkpoint will cost, known before anything is allocated (issue 16: a 1 KB card
asking for `width: 1024` made the show allocate 2.7 GB before it was refused).

Two plain descriptions are compared, and only if they agree is anything built or loaded:

- `read_header`: the safetensors header alone (8 bytes of length, then JSON), checked for
  what a hostile file could get wrong: its length, each tensor's dtype, shape and byte range,
  and that the byte ranges tile the file's data exactly. So the sizes it states are the
  file's own, bounded by the file's length on disk.
- `planned_tensors`: every tensor the card's architecture and config would create, with its
  shape and dtype, from building the network on torch's `meta` device (shapes without
  storage: no memory, whatever the config asks for). It works for any architecture
  registered in networks/, with no per-architecture arithmetic to keep in step.

`check_plan` then demands the same names, shapes and kinds of dtype, so the model built next
holds exactly as many elements as the file has, and never more than MAX_WEIGHTS_BYTES allows.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from installation.networks import build_model

# Our models have hundreds of tensors (a header of a few tens of KB); safetensors itself
# refuses headers over 100 MB. Anything near that is not a model of ours.
MAX_HEADER_BYTES = 16 * 1024 * 1024

# safetensors dtype names -> (bytes per element, floating point?)
DTYPES: dict[str, tuple[int, bool]] = {
    "F64": (8, True),
    "F32": (4, True),
    "F16": (2, True),
    "BF16": (2, True),
    "I64": (8, False),
    "I32": (4, False),
    "I16": (2, False),
    "I8": (1, False),
    "U8": (1, False),
    "BOOL": (1, False),
}


class PlanError(ValueError):
    """The header is malformed, or the file and the architecture disagree."""


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    floating: bool

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def read_header(data: bytes | memoryview) -> dict[str, TensorSpec]:
    """The tensors a safetensors file (its bytes) declares, from its header alone."""
    size = len(data)
    if size < 8:
        raise PlanError(f"{size} bytes: too short for a safetensors header")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(MAX_HEADER_BYTES, size - 8):
        raise PlanError(f"header claims {length} bytes in a {size}-byte file")
    raw = bytes(data[8 : 8 + length])
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise PlanError("header is not a JSON object")
    header.pop("__metadata__", None)
    specs: dict[str, TensorSpec] = {}
    ranges: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        specs[name], start, end = _entry(name, entry)
        ranges.append((start, end, name))
    _check_tiling(ranges, size - 8 - length)
    return specs


def _entry(name: str, entry: Any) -> tuple[TensorSpec, int, int]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise PlanError(f"tensor {name!r}: entry must have dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPES:
        raise PlanError(f"tensor {name!r}: unsupported dtype {dtype!r}")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise PlanError(f"tensor {name!r}: shape {shape!r} is not a list of sizes")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(o) is int and o >= 0 for o in offsets)
    ):
        raise PlanError(f"tensor {name!r}: data_offsets {offsets!r} are not two byte positions")
    itemsize, floating = DTYPES[dtype]
    spec = TensorSpec(tuple(shape), floating)
    start, end = offsets
    if end - start != spec.numel * itemsize:
        raise PlanError(
            f"tensor {name!r}: shape {tuple(shape)} needs {spec.numel * itemsize} bytes, "
            f"its data_offsets hold {end - start}"
        )
    return spec, start, end


def _check_tiling(ranges: list[tuple[int, int, str]], data_bytes: int) -> None:
    """The byte ranges must cover the data section exactly, without overlap: then the sizes
    the header states add up to the file's real length."""
    position = 0
    for start, end, name in sorted(ranges):
        if start != position:
            raise PlanError(
                f"tensor {name!r} starts at byte {start}, expected {position} (gap or overlap)"
            )
        position = end
    if position != data_bytes:
        raise PlanError(
            f"tensors hold {position} bytes, the file has {data_bytes} after its header"
        )


def planned_tensors(architecture: str, config: Mapping[str, Any]) -> dict[str, TensorSpec]:
    """Every tensor of the architecture's state dict, computed without allocating any.
    Raises ArchitectureError / ValueError for an unknown architecture or a bad config."""
    with torch.device("meta"):
        module = build_model(architecture, config)
    return {
        name: TensorSpec(tuple(t.shape), t.is_floating_point())
        for name, t in module.state_dict().items()
    }


def check_plan(planned: Mapping[str, TensorSpec], stored: Mapping[str, TensorSpec]) -> None:
    """Raise PlanError unless the file holds exactly the tensors the architecture needs."""
    missing = sorted(set(planned) - set(stored))
    extra = sorted(set(stored) - set(planned))
    if missing or extra:
        raise PlanError(
            f"weights do not match the architecture (missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {extra[:3]}{'...' if len(extra) > 3 else ''})"
        )
    for name, want in planned.items():
        have = stored[name]
        if have.shape != want.shape:
            raise PlanError(
                f"tensor {name} has shape {have.shape}, the architecture needs {want.shape} "
                f"(the card's config asks for {sum(s.numel for s in planned.values()):,} "
                f"elements, the file holds {sum(s.numel for s in stored.values()):,})"
            )
        if have.floating != want.floating:
            raise PlanError(
                f"tensor {name} is {'floating' if have.floating else 'integer'}; "
                f"the architecture needs {'floating' if want.floating else 'integer'}"
            )
