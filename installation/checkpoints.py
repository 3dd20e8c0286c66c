"""Checkpoints: a model is a folder `models/<name>/` with `model.safetensors` + `card.json`.

Plain data only: weights are safetensors (never pickle), the card is JSON, and the model is
rebuilt by this package's own classes from the card's architecture and config. Writes are
atomic (temp file in the same folder, fsync, os.replace) so a reader, another thread or a
show watching the folder, never sees half a file under its final name. Loading validates
everything a corrupt or hostile file could get wrong before the model can reach the screen.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

# The file names and the atomic write live in files.py (torch-free); re-exported here.
from installation.files import CARD_FILE, WEIGHTS_FILE, _fsync_dir, atomic_write_bytes  # noqa: F401
from installation.networks import SHAPES, ArchitectureError, build_model, expected_shapes
from installation.weights_plan import PlanError, check_plan, planned_tensors, read_header

log = logging.getLogger(__name__)

CARD_FORMAT = "installation.checkpoint/1"
# A generous ceiling: shipped models are <= 10 MB; anything far bigger is not ours.
MAX_WEIGHTS_BYTES = 2 * 1024**3
MAX_CARD_BYTES = 1024**2  # a card is a few KB of JSON


class CheckpointError(Exception):
    """A checkpoint that must not be played; the message says what is wrong."""


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = CARD_FORMAT
    name: str
    architecture: str
    config: dict[str, Any]
    latent_dim: int = Field(ge=0, description="0 for an upscaler (architecture sr)")
    resolution: int = Field(gt=0)
    channels: int = Field(ge=1, le=4)
    step: int = Field(ge=0, description="training step; also the model's version")
    dataset: str = ""
    created: str = ""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    dtype: str = "float32"
    command: str = ""
    notes: str = ""
    # Where an imported model came from: file name, sha256, format, licence note.
    source: dict[str, str] = Field(default_factory=dict)


class LoadedModel:
    """A validated, ready-to-run model and its card. Handed between threads whole."""

    def __init__(self, module: nn.Module, card: ModelCard, folder: Path) -> None:
        self.module = module
        self.card = card
        self.folder = folder

    @property
    def id(self) -> str:
        return self.card.name

    @property
    def version(self) -> int:
        return self.card.step

    @property
    def latent_dim(self) -> int:
        return self.card.latent_dim

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "architecture": self.card.architecture}


def state_dict_for_saving(
    module: nn.Module, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors; floating ones in `dtype` (fp16 halves the file)."""
    out = {}
    for key, tensor in module.state_dict().items():
        t = tensor.detach().to("cpu")
        if t.is_floating_point():
            t = t.to(dtype)
        out[key] = t.contiguous()
    return out


def save_checkpoint(
    folder: Path,
    module: nn.Module,
    *,
    name: str,
    architecture: str,
    config: dict[str, Any],
    step: int = 0,
    dataset: str = "",
    command: str = "",
    notes: str = "",
    dtype: torch.dtype = torch.float32,
    source: dict[str, str] | None = None,
) -> ModelCard:
    """Write weights then card, each atomically. The card carries the weights' sha256, so a
    reader that catches the pair between the two replaces sees a mismatch, not a wrong model."""
    folder = Path(folder)
    weights = save_safetensors(state_dict_for_saving(module, dtype))
    card = ModelCard(
        name=name,
        architecture=architecture,
        config=dict(config),
        latent_dim=int(module.latent_dim),
        resolution=int(module.resolution),
        channels=int(module.channels),
        step=int(step),
        dataset=dataset,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        sha256=hashlib.sha256(weights).hexdigest(),
        dtype=str(dtype).removeprefix("torch."),
        command=command,
        notes=notes,
        source=dict(source or {}),
    )
    atomic_write_bytes(folder / WEIGHTS_FILE, weights)
    atomic_write_bytes(folder / CARD_FILE, (card.model_dump_json(indent=2) + "\n").encode())
    return card


def read_card(folder: Path) -> ModelCard:
    path = Path(folder) / CARD_FILE
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise CheckpointError(
                f"{path} is {path.stat().st_size} bytes, too large for a model card"
            )
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"{path} is missing: a model folder needs {CARD_FILE} and {WEIGHTS_FILE}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not readable JSON: {exc}") from None
    try:
        card = ModelCard.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CheckpointError(f"{path}: {where}: {first['msg']}") from None
    if card.format != CARD_FORMAT:
        raise CheckpointError(
            f"{path}: unsupported format {card.format!r} (expected {CARD_FORMAT!r})"
        )
    return card


def _check_tensors(model: nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{source}: weights do not match the architecture "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {extra[:3]}{'...' if len(extra) > 3 else ''})"
        )
    for key, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{source}: tensor {key} has shape {tuple(tensor.shape)}, "
                f"the architecture needs {tuple(expected[key].shape)}"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{source}: tensor {key} holds NaN or infinite values")


def _header_shapes(data: bytes) -> dict[str, tuple[int, ...]]:
    try:
        header = read_header(data)
    except PlanError:
        return {}  # check_sizes reports the bad header
    return {name: tuple(t.shape) for name, t in header.items()}


def _check_config_shapes(
    card: ModelCard, header_shapes: dict[str, tuple[int, ...]], folder: Path
) -> None:
    """Architectures with a shape calculator (networks.SHAPES) are checked by arithmetic
    first: even a meta-device build of a huge StyleGAN config costs ~150 MB of bookkeeping."""
    if card.architecture not in SHAPES:
        return
    try:
        expected = expected_shapes(card.architecture, card.config)
    except (ArchitectureError, ValueError) as exc:
        raise CheckpointError(f"{folder}: {exc}") from None
    if expected != header_shapes:
        differ = sorted(
            k for k in set(expected) | set(header_shapes) if expected.get(k) != header_shapes.get(k)
        )
        raise CheckpointError(
            f"{folder}: the card's {card.architecture} config describes other tensors than "
            f"{WEIGHTS_FILE} holds (first difference: {differ[0]})"
        )


def check_forward(module: nn.Module, latent_dim: int, batch: int = 2) -> torch.Tensor:
    """Decode a few fixed latents where the module is (device and precision); raises
    CheckpointError unless the output is finite (fp16 can overflow where fp32 did not)."""
    param = next(module.parameters())
    gen = torch.Generator().manual_seed(1234)
    with torch.inference_mode():
        if hasattr(module, "check_input"):  # an upscaler: a fixed test image, not a latent
            out = module(module.check_input(batch).to(param.device, param.dtype)).float()
        else:
            z = torch.randn(batch, latent_dim, generator=gen).to(param.device, param.dtype)
            out = module.decode(z).float()
        finite = bool(torch.isfinite(out).all())  # also waits for an asynchronous device
    if not finite:
        raise CheckpointError(
            f"a test decode at {param.dtype} on {param.device} gives NaN or infinite pixels"
        )
    return out


def read_weights(folder: Path, card: ModelCard) -> bytes:
    """The weights file's bytes, read once, when its size is plausible and its sha256 is the card's."""
    weights_path = Path(folder) / WEIGHTS_FILE
    try:
        size = weights_path.stat().st_size
        if size > MAX_WEIGHTS_BYTES:
            raise CheckpointError(
                f"{weights_path} is {size} bytes, larger than any model this plays"
            )
        data = weights_path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{weights_path} is missing") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != card.sha256:
        raise CheckpointError(
            f"{weights_path}: sha256 {digest[:12]}... does not match the card's {card.sha256[:12]}... "
            "(truncated, still being copied, or not the file the card describes)"
        )
    return data


def check_sizes(card: ModelCard, folder: Path, data: bytes) -> None:
    """The card's architecture must need exactly the tensors the weights file (`data`)
    declares, known from the file's header and the network built on the meta device: so a
    small card cannot make the show allocate more than the file itself holds
    (weights_plan.py)."""
    try:
        stored = read_header(data)
    except PlanError as exc:
        raise CheckpointError(
            f"{folder / WEIGHTS_FILE} is not a valid safetensors file ({exc})"
        ) from None
    try:
        planned = planned_tensors(card.architecture, card.config)
    except (ArchitectureError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{folder}: {exc}") from None
    try:
        check_plan(planned, stored)
    except PlanError as exc:
        raise CheckpointError(f"{folder / WEIGHTS_FILE}: {exc}") from None


def build_checkpoint(
    folder: Path, card: ModelCard, data: bytes, device: torch.device | str = "cpu"
) -> LoadedModel:
    """The model from weights already read and hashed (`read_weights`): parse them as
    safetensors (never a pickle), rebuild the card's architecture with the package's own
    classes, check keys, shapes and finite values, load. No test decode: the caller does one."""
    weights_path = Path(folder) / WEIGHTS_FILE
    _check_config_shapes(card, _header_shapes(data), Path(folder))
    check_sizes(card, Path(folder), data)  # before any tensor is made or the network built
    try:
        tensors = load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error type for any bad header
        raise CheckpointError(f"{weights_path} is not a valid safetensors file ({exc})") from None
    try:
        module = build_model(card.architecture, card.config)
    except (ArchitectureError, ValueError) as exc:
        raise CheckpointError(f"{folder}: {exc}") from None
    if (module.latent_dim, module.resolution, module.channels) != (
        card.latent_dim,
        card.resolution,
        card.channels,
    ):
        raise CheckpointError(
            f"{folder}: card's latent_dim/resolution/channels disagree with its config"
        )
    _check_tensors(module, tensors, weights_path)
    module.load_state_dict(tensors, strict=True)  # copy_ casts fp16 files to fp32 params
    module.eval().requires_grad_(False).to(device)
    return LoadedModel(module, card, Path(folder))


def load_checkpoint(folder: Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Load and validate `folder` (card, hash, keys, shapes, finite values, test forward).

    Raises CheckpointError with a message fit for an operator; never unpickles anything.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"model folder {folder} does not exist")
    card = read_card(folder)
    model = build_checkpoint(folder, card, read_weights(folder, card), device)
    check_forward(model.module, card.latent_dim)
    log.info(
        "loaded model %s step %d (%s, %dpx) from %s",
        card.name,
        card.step,
        card.architecture,
        card.resolution,
        folder,
    )
    return model
