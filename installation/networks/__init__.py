"""Generator architectures, one module each, behind one small interface.

Every model has `latent_dim`, `resolution`, `channels` and `decode(z) -> images in [-1, 1]`
shaped [B, channels, resolution, resolution]; the VAE adds `encode(images)`. Models are
rebuilt from a plain config dict by `build_model`, so checkpoints stay plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from installation.networks.dcgan import DCGANConfig, DCGANGenerator
from installation.networks.fewshot import FewShotConfig, FewShotGenerator
from installation.networks.mlp import MLPConfig, MLPGenerator
from installation.networks.sr import SRConfig, SRUpscaler
from installation.networks.stylegan2 import StyleGAN2Config, StyleGAN2Generator, stylegan2_shapes
from installation.networks.stylegan3 import StyleGAN3Config, StyleGAN3Generator, stylegan3_shapes
from installation.networks.vae import ConvVAE, VAEConfig

# architecture name -> (config class, model class)
ARCHITECTURES: dict[str, tuple[Callable[..., Any], Callable[[Any], nn.Module]]] = {
    "dcgan": (DCGANConfig, DCGANGenerator),
    "mlp": (MLPConfig, MLPGenerator),
    "vae": (ConvVAE.config_class, ConvVAE),
    "fewshot": (FewShotConfig, FewShotGenerator),
    "sr": (SRConfig, SRUpscaler),  # an upscaler for display.upscale, not a generator
    "stylegan2": (StyleGAN2Config, StyleGAN2Generator),
    "stylegan3-t": (StyleGAN3Config, StyleGAN3Generator),
    "stylegan3-r": (StyleGAN3Config, StyleGAN3Generator),
}

# Architectures whose tensor shapes can be computed from a config without building anything:
# loaders compare them with a file's tensors first, so a small config cannot allocate gigabytes.
SHAPES: dict[str, Callable[[Any], dict[str, tuple[int, ...]]]] = {
    "stylegan2": stylegan2_shapes,
    "stylegan3-t": stylegan3_shapes,
    "stylegan3-r": stylegan3_shapes,
}


class ArchitectureError(ValueError):
    """An unknown architecture or a config it cannot build."""


def _config(architecture: str, config: Mapping[str, Any]) -> Any:
    if architecture not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ArchitectureError(f"unknown architecture {architecture!r} (known: {known})")
    try:
        return ARCHITECTURES[architecture][0](**config)
    except TypeError as exc:
        raise ArchitectureError(f"bad {architecture} config: {exc}") from exc


def build_model(architecture: str, config: Mapping[str, Any]) -> nn.Module:
    cfg = _config(architecture, config)  # first: it names an unknown architecture
    return ARCHITECTURES[architecture][1](cfg)


def expected_shapes(architecture: str, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The state dict's shapes for `config`, computed without allocating any tensor."""
    if architecture not in SHAPES:
        raise ArchitectureError(f"no shape calculator for architecture {architecture!r}")
    return SHAPES[architecture](_config(architecture, config))


__all__ = [
    "ARCHITECTURES",
    "ArchitectureError",
    "ConvVAE",
    "DCGANConfig",
    "DCGANGenerator",
    "FewShotConfig",
    "FewShotGenerator",
    "MLPConfig",
    "MLPGenerator",
    "SRConfig",
    "SRUpscaler",
    "SHAPES",
    "StyleGAN2Config",
    "StyleGAN2Generator",
    "StyleGAN3Config",
    "StyleGAN3Generator",
    "VAEConfig",
    "build_model",
    "expected_shapes",
]
