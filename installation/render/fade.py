"""Crossfading from one model to the next cheaply (the loop's step 5 starts a fade)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

Picture = Any  # a [3, H, W] float tensor on the render device
Decode = Callable[[Any, np.ndarray], Picture]  # (model, z) -> picture


class OneDecodeFader:
    """A crossfade that costs one decode per frame, for CPU renders where two do not fit.

    Rendering both models every frame of a 2 s crossfade doubles the generator's cost just
    when the audience is watching; on a 2-core CPU that drops frames. Instead each frame
    refreshes one of the two pictures and blends it with the other's latest: the incoming
    model's in proportion to its weight (`mix`), the outgoing one's in proportion to the
    rest, by credits rather than chance, so each layer moves at a pace that follows how
    visible it is. Outside a fade it keeps a reference to the last picture (no copy), so
    the first frame of a fade finds the outgoing picture ready and decodes only the new one.

    Not thread-safe: for the sequential loop (the pipelined one decodes both).
    """

    def __init__(self) -> None:
        self._pictures: list[tuple[Any, Picture]] = []  # (model, its latest picture)
        self._credit_new = 0.0
        self._credit_old = 0.0

    def _cached(self, model: Any) -> Picture | None:
        return next((pic for m, pic in self._pictures if m is model), None)

    def picture(
        self,
        decode: Decode,
        model: Any,
        previous: Any | None,
        z: np.ndarray,
        previous_z: np.ndarray | None,
        mix: float,
    ) -> Picture:
        if mix >= 1.0 or previous is None:
            pic = decode(model, z)
            self._pictures, self._credit_new, self._credit_old = [(model, pic)], 0.0, 0.0
            return pic
        pz = z if previous_z is None else previous_z
        new, old = self._cached(model), self._cached(previous)
        can_decode_old = pz.shape[0] == previous.latent_dim
        self._credit_new += mix
        self._credit_old += 1.0 - mix
        if (
            new is None
            or old is not None
            and (self._credit_new >= self._credit_old or not can_decode_old)
        ):
            new = decode(model, z)
            self._credit_new -= 1.0
        elif can_decode_old:
            old = decode(previous, pz)
            self._credit_old -= 1.0
        self._pictures = [(model, new), (previous, old)]
        if old is None or old.shape != new.shape:
            return new
        return torch.lerp(old, new, mix)
