"""Convolutional variational autoencoder (Kingma & Welling, 2013).

The encoder maps an image to the mean and log-variance of a Gaussian in latent space; the
decoder (DCGAN-shaped) maps a latent back to an image. Keeping the encoder in the exported
model lets a performer turn their own images into keyframes of the walk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from installation.networks.dcgan import RESOLUTIONS, DCGANConfig, DCGANGenerator


@dataclass(frozen=True)
class VAEConfig:
    latent_dim: int = 64
    resolution: int = 64
    width: int = 32
    channels: int = 3
    max_width_mult: int = 8

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"VAE resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        if self.latent_dim < 1 or self.width < 1 or self.channels not in (1, 3):
            raise ValueError("latent_dim and width must be positive, channels 1 or 3")

    def to_dict(self) -> dict:
        return asdict(self)


class ConvVAE(nn.Module):
    config_class = VAEConfig

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.resolution, self.channels = (
            cfg.latent_dim,
            cfg.resolution,
            cfg.channels,
        )
        n_down = cfg.resolution.bit_length() - 3  # resolution -> 4x4
        layers: list[nn.Module] = []
        cin = cfg.channels
        for i in range(n_down):
            cout = cfg.width * min(2**i, cfg.max_width_mult)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            cin = cout
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        self.to_stats = nn.Linear(cin * 16, 2 * cfg.latent_dim)
        self.decoder = DCGANGenerator(
            DCGANConfig(cfg.latent_dim, cfg.resolution, cfg.width, cfg.channels, cfg.max_width_mult)
        )

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [-1, 1], [B, C, R, R] -> (mu, logvar), each [B, latent_dim]."""
        assert images.ndim == 4 and images.shape[1:] == (
            self.channels,
            self.resolution,
            self.resolution,
        ), (
            f"images must be [B, {self.channels}, {self.resolution}, {self.resolution}], got {tuple(images.shape)}"
        )
        mu, logvar = self.to_stats(self.encoder(images)).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.decode(z)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(images)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar
