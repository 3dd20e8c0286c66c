"""The small fully connected GAN generator for 28x28 images (MNIST-sized).

Cheap enough to run anywhere, and the classic first GAN: a latent vector through three
hidden layers to a flat image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MLPConfig:
    latent_dim: int = 64
    resolution: int = 28
    hidden: int = 256
    channels: int = 1

    def __post_init__(self) -> None:
        if self.resolution != 28:
            raise ValueError(f"the mlp generator makes 28x28 images, not {self.resolution}")
        if self.latent_dim < 1 or self.hidden < 1 or self.channels not in (1, 3):
            raise ValueError("latent_dim and hidden must be positive, channels 1 or 3")

    def to_dict(self) -> dict:
        return asdict(self)


class MLPGenerator(nn.Module):
    config_class = MLPConfig

    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.resolution, self.channels = (
            cfg.latent_dim,
            cfg.resolution,
            cfg.channels,
        )
        h = cfg.hidden
        self.net = nn.Sequential(
            nn.Linear(cfg.latent_dim, h),
            nn.LeakyReLU(0.2, True),
            nn.Linear(h, 2 * h),
            nn.LeakyReLU(0.2, True),
            nn.Linear(2 * h, 4 * h),
            nn.LeakyReLU(0.2, True),
            nn.Linear(4 * h, cfg.channels * 28 * 28),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.latent_dim, (
            f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}"
        )
        return torch.tanh(self.net(z)).view(-1, self.channels, 28, 28)
