"""A generator read from a foreign file, as plain data, before anything is built; and the
check that its config's computed shapes are the file's own, within the element cap."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from installation.importing.safe_pickle import RefusedPickle
from installation.networks import ArchitectureError, expected_shapes

MAX_GENERATOR_ELEMENTS = 200_000_000  # a 1024 px StyleGAN2 generator has about 30 M


class ImportRefused(Exception):
    """The file cannot be imported; the message names what was found."""


@dataclass
class Imported:
    """A generator read from a foreign file, as plain data, before anything is built."""

    architecture: str
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    source_format: str
    licence: str = ""
    notes: list[str] = field(default_factory=list)
    # Fixed filters the file stores: compared with the ones our config designs, then dropped.
    derived: dict[str, torch.Tensor] = field(default_factory=dict)
    estimate_w_avg: bool = False  # the file has no tracked w_avg: estimate it after loading


def check_header_shapes(
    architecture: str, config: dict[str, Any], found: dict[str, tuple[int, ...]]
) -> None:
    """The config's shapes (computed, nothing allocated) must be the file's shapes exactly,
    and within the element cap. Raises RefusedPickle naming the first difference."""
    try:
        expected = expected_shapes(architecture, config)
    except (ArchitectureError, ValueError) as exc:
        raise RefusedPickle(f"generator config outside the schema: {exc}") from None
    count = sum(math.prod(s) for s in expected.values())
    if count > MAX_GENERATOR_ELEMENTS:
        raise RefusedPickle(
            f"the generator config asks for {count:,} parameters, over the cap of {MAX_GENERATOR_ELEMENTS:,}"
        )
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise RefusedPickle(
            f"the generator's tensors do not match its config (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for key, shape in expected.items():
        if tuple(found[key]) != shape:
            raise RefusedPickle(
                f"tensor {key} has shape {tuple(found[key])}, its config says {shape}"
            )
