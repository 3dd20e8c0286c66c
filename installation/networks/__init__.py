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
from installation.networks.mlp import MLPConfig, MLPGenerator
from installation.networks.vae import ConvVAE, VAEConfig

# architecture name -> (config class, model class)
ARCHITECTURES: dict[str, tuple[Callable[..., Any], Callable[[Any], nn.Module]]] = {
    "dcgan": (DCGANConfig, DCGANGenerator),
    "mlp": (MLPConfig, MLPGenerator),
    "vae": (ConvVAE.config_class, ConvVAE),
}


class ArchitectureError(ValueError):
    """An unknown architecture or a config it cannot build."""


def build_model(architecture: str, config: Mapping[str, Any]) -> nn.Module:
    if architecture not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ArchitectureError(f"unknown architecture {architecture!r} (known: {known})")
    config_class, model_class = ARCHITECTURES[architecture]
    try:
        cfg = config_class(**config)
    except TypeError as exc:
        raise ArchitectureError(f"bad {architecture} config: {exc}") from exc
    return model_class(cfg)


__all__ = [
    "ARCHITECTURES",
    "ArchitectureError",
    "ConvVAE",
    "DCGANConfig",
    "DCGANGenerator",
    "MLPConfig",
    "MLPGenerator",
    "VAEConfig",
    "build_model",
]
