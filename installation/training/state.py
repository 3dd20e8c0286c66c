"""Training state for --resume: one safetensors file, never a pickle.

Networks' and optimizers' state dicts are nested dicts and lists of tensors and plain
values. Tensors go into the safetensors body under their path ("opt_g/state/3/exp_avg");
everything else goes, as JSON with tensors replaced by references, into the file's own
metadata header. One file means one atomic replace: a reader sees the old state or the
new one, never a tensor file from one step and a JSON file from another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from installation.checkpoints import atomic_write_bytes
from installation.training.config import TrainingError

STATE_FILE = "train_state.safetensors"
STATE_FORMAT = "installation.train_state/1"


def flatten(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """A JSON-able skeleton of `obj`; its tensors moved into `tensors` keyed by path.
    Dicts become {"__dict__": [[key, value], ...]} so integer keys (optimizer state)
    survive the trip through JSON."""
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": path}
    if isinstance(obj, dict):
        return {"__dict__": [[k, flatten(v, tensors, f"{path}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        return [flatten(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {path} in training state")


def unflatten(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        return {k: unflatten(v, tensors) for k, v in skeleton["__dict__"]}
    if isinstance(skeleton, list):
        return [unflatten(v, tensors) for v in skeleton]
    return skeleton


def save_state(folder: Path, state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten(state, tensors)
    metadata = {"format": STATE_FORMAT, "state": json.dumps(skeleton)}
    atomic_write_bytes(Path(folder) / STATE_FILE, save_safetensors(tensors, metadata=metadata))


def load_state(folder: Path) -> dict[str, Any]:
    """The state written by save_state; TrainingError for a missing or damaged file."""
    path = Path(folder) / STATE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TrainingError(
            f"cannot resume: {path} does not exist (train without --resume to start a new run)"
        ) from None
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        metadata = header.get("__metadata__") or {}
        if metadata.get("format") != STATE_FORMAT:
            raise ValueError(f"format {metadata.get('format')!r}, expected {STATE_FORMAT!r}")
        tensors = load_safetensors(data)
        state = unflatten(json.loads(metadata["state"]), tensors)
    except (
        ValueError,
        KeyError,
        TypeError,
        SafetensorError,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as exc:
        raise TrainingError(f"cannot resume: {path} is damaged ({exc})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise TrainingError(f"cannot resume: {path} holds no training step")
    return state
