"""A picture of a model's directions: row k pushes one latent along direction k from -3 to
+3 sigma. One implementation, drawn by `installation directions MODEL --strip` and by
`installation sample MODEL --directions`; the directions come from the cache beside the
model, computed (with a progress bar) and cached when it is missing or stale."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from installation.checkpoints import LoadedModel
from installation.files import atomic_write_bytes
from installation.instruments.directions import (
    Directions,
    K,
    compute_directions,
    load_directions,
    save_directions,
    w_width,
)
from installation.networks.stylegan_base import StyleControls

log = logging.getLogger(__name__)

STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


def directions_for(
    model: LoadedModel, samples: int = 4096, force: bool = False, progress: bool = True
) -> Directions:
    """The model's cached directions, or new ones computed and cached beside it."""
    directions, why = load_directions(model.folder, model.latent_dim, w_width(model.module))
    if directions is not None and not force:
        return directions
    if why:
        log.info("%s", why)
    directions = compute_directions(
        model.module, model.latent_dim, samples=samples, k=K, progress=progress
    )
    path = save_directions(model.folder, directions)
    log.info("directions saved to %s (layer %s)", path, directions.layer)
    return directions


@torch.no_grad()
def strip_image(model: LoadedModel, directions: Directions, seed: int) -> torch.Tensor:
    """[k * 7, C, H, W]: row k pushes one latent along direction k from -3 to +3 sigma."""
    from installation.instruments.modes import seeded_latent

    z0 = seeded_latent(seed, model.latent_dim) * 0.8  # the default show's truncation
    offsets = []
    for k in range(directions.vectors.shape[0]):
        amounts = np.zeros(directions.vectors.shape[0], dtype=np.float32)
        for step in STEPS:
            amounts[k] = step
            offsets.append(directions.offset(amounts))
    moves = torch.from_numpy(np.stack(offsets))
    z = torch.from_numpy(z0)[None].repeat(len(offsets), 1)
    if directions.space == "w":  # pushed in w itself, as the show does
        return model.module.decode(z, StyleControls(w_offset=moves)).float()
    return model.module.decode(z + moves).float()


def write_strips(out: Path, model: LoadedModel, directions: Directions, seed: int) -> list[Path]:
    """FILE.png: one sheet, a row per direction; DIR: that sheet as directions.png and a
    strip per direction (direction-1.png ..)."""
    from installation.training.plots import _png, grid_image

    images = strip_image(model, directions, seed)
    sheet = _png(grid_image(images, nrow=len(STEPS), scale=2))
    if out.suffix:
        if out.suffix.lower() != ".png":
            raise ValueError(f"{out}: the directions strip is a .png or a directory")
        atomic_write_bytes(out, sheet)
        return [out]
    written = [out / "directions.png"]
    atomic_write_bytes(written[0], sheet)
    n = len(STEPS)
    for k in range(directions.vectors.shape[0]):
        path = out / f"direction-{k + 1}.png"
        atomic_write_bytes(path, _png(grid_image(images[k * n : (k + 1) * n], nrow=n, scale=2)))
        written.append(path)
    return written
