"""DCGAN-style convolutional generator (Radford et al., 2015), 32 to 256 pixels.

A latent vector becomes a 4x4 feature map, then each stride-2 transposed convolution
doubles the size while halving the channels, down to `channels` at `resolution`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

RESOLUTIONS = (32, 64, 128, 256)


@dataclass(frozen=True)
class DCGANConfig:
    latent_dim: int = 128
    resolution: int = 128
    width: int = 32  # channels of the last hidden layer; earlier layers are multiples
    channels: int = 3
    max_width_mult: int = 8

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(
                f"DCGAN resolution must be one of {RESOLUTIONS}, got {self.resolution}"
            )
        if self.latent_dim < 1 or self.width < 1 or self.channels not in (1, 3):
            raise ValueError("latent_dim and width must be positive, channels 1 or 3")

    def to_dict(self) -> dict:
        return asdict(self)


def _stage_widths(cfg: DCGANConfig) -> list[int]:
    """Channel counts from the 4x4 map up to the last hidden layer."""
    n_up = cfg.resolution.bit_length() - 3  # 4 -> resolution in n_up doublings
    mults = [min(2**i, cfg.max_width_mult) for i in range(n_up - 1, -1, -1)]
    return [cfg.width * m for m in mults]


def _upsample_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


class DCGANGenerator(nn.Module):
    config_class = DCGANConfig

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.resolution, self.channels = (
            cfg.latent_dim,
            cfg.resolution,
            cfg.channels,
        )
        widths = _stage_widths(cfg)
        self.stem = nn.Sequential(
            nn.ConvTranspose2d(cfg.latent_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        )
        self.blocks = nn.Sequential(
            *[_upsample_block(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        )
        self.to_rgb = nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.latent_dim, (
            f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}"
        )
        x = self.stem(z[:, :, None, None])
        x = torch.tanh(self.to_rgb(self.blocks(x)))
        assert x.shape[-1] == self.resolution
        return x
