"""The show's parameters as StyleGAN controls, once per frame (pure, torch only for mix_z).

For a style-based model (`module.styled`), `latent.truncation` is psi (toward w_avg) rather
than a scale on z, and the style.*, noise.* and transform.* parameters apply. The second
latent for style mixing walks its own seeded path at the same phase, so mixing is as
deterministic as the main walk. Models without styles ignore all of this.
"""

from __future__ import annotations

import numpy as np
import torch

from installation.navigator import Navigator
from installation.networks.stylegan_base import StyleControls

MIX_SEED_OFFSET = 7919  # a different, fixed walk for the mixing latent


def is_styled(model: object | None) -> bool:
    return bool(getattr(getattr(model, "module", None), "styled", False))


class MixWalk:
    """The second latent's walk, rebuilt when the latent size or the main walk changes."""

    def __init__(self) -> None:
        self._nav: Navigator | None = None

    def position(self, main: Navigator, phase: float) -> np.ndarray:
        nav = self._nav
        if (
            nav is None
            or nav.latent_dim != main.latent_dim
            or nav.seed != main.seed + MIX_SEED_OFFSET
        ):
            nav = self._nav = Navigator(
                main.latent_dim, main.seed + MIX_SEED_OFFSET, main.mode, main.easing
            )
        return nav.position(phase, 1.0)


def controls_from_values(values: dict[str, float], mix_z: np.ndarray | None) -> StyleControls:
    mix = float(values.get("style.mix", 0.0))
    return StyleControls(
        psi=float(values.get("latent.truncation", 1.0)),
        mix_z=torch.from_numpy(mix_z)[None] if mix_z is not None and mix > 0 else None,
        mix=mix,
        crossover=int(values.get("style.crossover", 6)),
        noise_mode="random" if values.get("noise.random", 0.0) >= 0.5 else "const",
        noise_strength=float(values.get("noise.strength", 1.0)),
        rotate=float(values.get("transform.rotate", 0.0)),
        translate=(float(values.get("transform.x", 0.0)), float(values.get("transform.y", 0.0))),
    )


def is_excited(model: object | None) -> bool:
    """Few-shot models (skip-layer excitation) take style.mix and noise.strength too."""
    return hasattr(getattr(model, "module", None), "excitations")


def has_transform(model: object | None) -> bool:
    """StyleGAN3 models (Fourier-feature input) can be rotated and shifted."""
    synthesis = getattr(getattr(model, "module", None), "synthesis", None)
    return hasattr(synthesis, "input")


def style_hud_line(values: dict[str, float], transform: bool) -> str:
    """The HUD's StyleGAN line: what the style knobs are doing now."""
    noise = "random" if values.get("noise.random", 0.0) >= 0.5 else "const"
    line = (
        f"mix {values.get('style.mix', 0.0):.2f} from layer {int(values.get('style.crossover', 6))}   "
        f"noise {noise} x{values.get('noise.strength', 1.0):.2f}"
    )
    if transform:
        line += (
            f"   rotate {values.get('transform.rotate', 0.0):+.0f}\u00b0   shift "
            f"{values.get('transform.x', 0.0):+.2f}, {values.get('transform.y', 0.0):+.2f}"
        )
    return line
