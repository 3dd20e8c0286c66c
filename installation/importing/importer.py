"""`installation import FILE --out models/NAME`: a foreign StyleGAN file becomes a model folder.

Order matters for safety: the file's size is capped before it is read; it is read (with a
progress bar) and hashed once; its format is told from its first bytes; its tensors come out
as plain data (nothing from the file is ever run); the generator's config is schema-checked;
the config's tensor shapes are computed without allocating and must equal the file's own
tensors, and their element count is capped, before any network is built. Only then is the
package's own class built, loaded with strict=True, test-decoded and saved as safetensors +
card, like any model the trainer writes.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import torch

from installation.checkpoints import CheckpointError, check_forward, save_checkpoint
from installation.importing import formats
from installation.importing.imported import Imported, ImportRefused, check_header_shapes
from installation.importing.safe_pickle import RefusedPickle
from installation.networks import build_model
from installation.training.progress import Progress

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 2 * 1024**3  # a 1024 px StyleGAN3-R snapshot with D and G is well under 1 GB
PROGRESS_FROM_BYTES = 32 * 1024**2
READ_CHUNK = 8 * 1024**2


def read_capped(
    path: Path, max_bytes: int | None = None, progress: bool = True
) -> tuple[bytearray, str]:
    """The file's bytes and sha256, refusing files over the cap before reading them."""
    max_bytes = MAX_IMPORT_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportRefused(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not path.is_file():
        raise ImportRefused(f"{path} is not a file")
    if size > max_bytes:
        raise ImportRefused(
            f"{path} is {size / 1024**2:.0f} MB, over the import cap of {max_bytes / 1024**2:.0f} MB"
        )
    bar = Progress(
        size,
        desc=f"read {path.name}",
        enabled=progress and size >= PROGRESS_FROM_BYTES,
        unit="byte",
    )
    # One buffer of the file's size, filled in place: a 2 GB file costs 2 GB, not 4.
    digest, buf, done = hashlib.sha256(), bytearray(size), 0
    view = memoryview(buf)
    with path.open("rb") as fh:
        while done < size and (n := fh.readinto(view[done : done + READ_CHUNK])):
            digest.update(view[done : done + n])
            done += n
            bar.update(done)
        if fh.read(1):
            raise ImportRefused(f"{path} grew while being read (still being copied?)")
    view.release()
    del buf[done:]
    return buf, digest.hexdigest()


def check_shapes(imported: Imported, source: Path) -> None:
    try:
        check_header_shapes(
            imported.architecture,
            imported.config,
            {k: tuple(v.shape) for k, v in imported.tensors.items()},
        )
    except RefusedPickle as exc:
        raise ImportRefused(f"{source}: {exc}") from None


@torch.inference_mode()
def estimate_w_avg(module: torch.nn.Module, samples: int = 10_000) -> None:
    """w_avg as training would have tracked it: the mean w of many (fixed) latents."""
    gen = torch.Generator().manual_seed(0)
    total = torch.zeros_like(module.mapping.w_avg)
    for start in range(0, samples, 1000):
        z = torch.randn(min(1000, samples - start), module.latent_dim, generator=gen)
        total += module.mapping(z).sum(0)
    module.mapping.w_avg.copy_(total / samples)


def build_generator(imported: Imported, source: Path) -> torch.nn.Module:
    check_shapes(imported, source)
    module = build_model(imported.architecture, imported.config)
    tensors = {k: v.float() for k, v in imported.tensors.items()}
    for key, t in tensors.items():
        if not bool(torch.isfinite(t).all()):
            raise ImportRefused(f"{source}: tensor {key} holds NaN or infinite values")
    module.load_state_dict(tensors, strict=True)
    module.eval().requires_grad_(False)
    formats.check_derived_filters(imported, module, source)
    if imported.estimate_w_avg:
        estimate_w_avg(module)
    try:
        check_forward(module, module.latent_dim)
    except CheckpointError as exc:
        raise ImportRefused(f"{source}: {exc}") from None
    return module


def import_model(
    source: Path,
    out: Path,
    *,
    name: str | None = None,
    progress: bool = True,
    max_bytes: int | None = None,
) -> Any:
    """Import `source` into the model folder `out`; returns the written ModelCard."""
    source, out = Path(source), Path(out)
    data, sha = read_capped(source, max_bytes, progress)
    try:
        imported = formats.read_any(data, source)
    except RefusedPickle as exc:
        raise ImportRefused(f"{source}: {exc}") from None
    module = build_generator(imported, source)
    provenance = f"imported from {source.name} (sha256 {sha}, {imported.source_format})"
    notes = "; ".join(
        [provenance, *imported.notes]
        + ([f"licence: {imported.licence}"] if imported.licence else [])
    )
    card = save_checkpoint(
        out,
        module,
        name=name or out.name,
        architecture=imported.architecture,
        config=imported.config,
        step=0,
        dataset="",
        command=f"installation import {source.name}",
        notes=notes,
        source={
            "file": source.name,
            "sha256": sha,
            "format": imported.source_format,
            "licence": imported.licence,
        },
    )
    log.info(
        "imported %s (%s, %d px) into %s",
        source.name,
        imported.architecture,
        module.resolution,
        out,
    )
    return card
