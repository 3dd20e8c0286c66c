"""What StyleGAN2 and StyleGAN3 share above the synthesis network: the mapping network, the
live style controls (truncation psi, style mixing, noise, input transform) and `decode`.

A style-based generator maps z to an intermediate latent w (Karras et al. 2019), one copy per
synthesis layer ("ws", [B, num_ws, w_dim]). Truncation pulls w toward the tracked average
`w_avg` by psi; style mixing takes the layers from `crossover` on from a second latent
(blended by `mix`, so a knob fades the mix in instead of cutting it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from installation.networks.stylegan_layers import EqualizedLinear, normalize_2nd_moment

NoiseMode = Literal["const", "random", "none"]
NOISE_MODES: tuple[str, ...] = ("const", "random", "none")


@dataclass(frozen=True)
class StyleControls:
    """Per-frame controls of a style-based generator. Immutable: handed to a render worker whole."""

    psi: float = 1.0
    mix_z: torch.Tensor | None = None  # [B, z_dim], the second latent for style mixing
    mix: float = 0.0  # 0 = no mixing, 1 = layers >= crossover come entirely from mix_z
    crossover: int = 8
    noise_mode: NoiseMode = "const"
    noise_strength: float = 1.0
    rotate: float = 0.0  # degrees, StyleGAN3 only: turns the Fourier features
    translate: tuple[float, float] = (0.0, 0.0)  # image widths, StyleGAN3 only

    def __post_init__(self) -> None:
        if self.noise_mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {self.noise_mode!r}")


class MappingNetwork(nn.Module):
    """z -> w: normalise z to unit RMS, then an MLP of equalized lrelu layers (lr x 0.01)."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_layers: int,
        lr_mul: float = 0.01,
        hidden: int | None = None,
    ) -> None:
        super().__init__()
        widths = [z_dim] + [hidden or w_dim] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            self.add_module(
                f"fc{i}",
                EqualizedLinear(widths[i], widths[i + 1], lr_mul=lr_mul, activation="lrelu"),
            )
        self.num_layers = num_layers
        # Tracked during training; the centre that truncation pulls toward.
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(z.float())
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


def mapping_shapes(
    z_dim: int, w_dim: int, num_layers: int, hidden: int | None = None
) -> dict[str, tuple[int, ...]]:
    """The mapping network's tensor shapes, computed without building it."""
    widths = [z_dim] + [hidden or w_dim] * (num_layers - 1) + [w_dim]
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(num_layers):
        shapes[f"mapping.fc{i}.weight"] = (widths[i + 1], widths[i])
        shapes[f"mapping.fc{i}.bias"] = (widths[i + 1],)
    shapes["mapping.w_avg"] = (w_dim,)
    return shapes


class StyleGenerator(nn.Module):
    """Base of StyleGAN2/3 generators: the package's model interface plus w-space.

    Subclasses set `self.mapping`, `self.synthesis`, `num_ws`, `z_dim`, `w_dim` and implement
    `synthesize(ws, controls)`. `styled = True` tells the renderer to pass StyleControls.
    """

    styled = True

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.resolution, self.channels = cfg.z_dim, cfg.resolution, cfg.channels
        self.z_dim, self.w_dim, self.num_ws = cfg.z_dim, cfg.w_dim, cfg.num_ws
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr)

    def ws(self, z: torch.Tensor, controls: StyleControls) -> torch.Tensor:
        """z [B, z_dim] -> truncated, optionally mixed ws [B, num_ws, w_dim] (float32)."""
        assert z.ndim == 2 and z.shape[1] == self.latent_dim, (
            f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}"
        )
        w_avg = self.mapping.w_avg.float()
        w = w_avg.lerp(self.mapping(z), controls.psi)
        ws = w[:, None, :].repeat(1, self.num_ws, 1)
        mix_z = controls.mix_z
        # A mixing latent made for another model (mid-crossfade) does not fit: skip it.
        if (
            mix_z is not None
            and mix_z.shape[-1] == self.latent_dim
            and controls.mix > 0
            and controls.crossover < self.num_ws
        ):
            w2 = w_avg.lerp(
                self.mapping(mix_z.to(z.device).reshape(-1, self.latent_dim)), controls.psi
            )
            start = max(0, int(controls.crossover))
            ws[:, start:] = ws[:, start:].lerp(
                w2[:, None, :].expand_as(ws[:, start:]), float(controls.mix)
            )
        return ws

    def synthesize(self, ws: torch.Tensor, controls: StyleControls) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, controls: StyleControls | None = None) -> torch.Tensor:
        """z -> images in roughly [-1, 1], [B, channels, resolution, resolution]."""
        controls = controls or StyleControls()
        img = self.synthesize(self.ws(z, controls), controls)
        assert img.shape[1:] == (self.channels, self.resolution, self.resolution), tuple(img.shape)
        return img

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)
