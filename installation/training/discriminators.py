"""Discriminators for GAN training (they never leave the training folder).

The DCGAN discriminator mirrors the generator: stride-2 convolutions halve the size and
double the channels down to 4x4, then one 4x4 convolution gives a logit. The classic recipe
uses batch norm; the stable option swaps batch norm for spectral norm on every layer
(Miyato et al., 2018), which bounds the discriminator's Lipschitz constant and pairs with
the hinge loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _maybe_sn(layer: nn.Module, spectral: bool) -> nn.Module:
    return spectral_norm(layer) if spectral else layer


class DCGANDiscriminator(nn.Module):
    def __init__(
        self,
        resolution: int,
        channels: int,
        width: int,
        spectral: bool = False,
        max_width_mult: int = 8,
    ) -> None:
        super().__init__()
        self.resolution, self.channels = resolution, channels
        n_down = resolution.bit_length() - 3  # resolution -> 4x4
        layers: list[nn.Module] = []
        cin = channels
        for i in range(n_down):
            cout = width * min(2**i, max_width_mult)
            # No batch norm on the first layer (DCGAN): it sees raw pixels.
            use_bn = i > 0 and not spectral
            layers.append(_maybe_sn(nn.Conv2d(cin, cout, 4, 2, 1, bias=not use_bn), spectral))
            if use_bn:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers.append(_maybe_sn(nn.Conv2d(cin, 1, 4, 1, 0), spectral))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.shape[1:] == (self.channels, self.resolution, self.resolution), (
            f"discriminator expects [B, {self.channels}, {self.resolution}, {self.resolution}], "
            f"got {tuple(images.shape)}"
        )
        return self.net(images).flatten()


class MLPDiscriminator(nn.Module):
    """For the 28x28 MLP GAN: flat pixels through two hidden layers to a logit."""

    def __init__(self, channels: int, hidden: int, spectral: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(
            nn.Flatten(),
            _maybe_sn(nn.Linear(channels * 28 * 28, 2 * hidden), spectral),
            nn.LeakyReLU(0.2, True),
            _maybe_sn(nn.Linear(2 * hidden, hidden), spectral),
            nn.LeakyReLU(0.2, True),
            _maybe_sn(nn.Linear(hidden, 1), spectral),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).flatten()


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d) and not hasattr(m, "parametrizations"):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
