"""A compact learned upscaler (x2 or x4) that runs between the generator and the display.

In the spirit of ESPCN (Shi et al., 2016: convolutions at the small size, one pixel
shuffle at the end) and Real-ESRGAN's SRVGG-compact (Wang et al., 2021: a plain stack of
3x3 convolutions with PReLU, and the network only learns the residual over a cheap
upsample). Every convolution runs at the input size, which is what lets a CPU afford it:
the net adds detail to a bilinear x2 instead of drawing the image again.

It is not a generator: `latent_dim` is 0 and `upscale(images)` replaces `decode(z)`. Its
card's `resolution` is the input size it was trained at (any size works).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SRConfig:
    scale: int = 2
    channels: int = 3
    width: int = 32
    convs: int = 4  # 3x3 convolutions at the input size, the first from the image
    resolution: int = 256  # the input size it was trained at (informative)

    def __post_init__(self) -> None:
        if self.scale not in (2, 4):
            raise ValueError(f"sr scale must be 2 or 4, got {self.scale}")
        if self.channels not in (1, 3) or self.width < 4 or self.convs < 1:
            raise ValueError("sr channels must be 1 or 3, width at least 4, convs at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


class SRUpscaler(nn.Module):
    config_class = SRConfig
    latent_dim = 0  # not a generator

    def __init__(self, cfg: SRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.scale, self.channels, self.resolution = cfg.scale, cfg.channels, cfg.resolution
        layers: list[nn.Module] = []
        c = cfg.channels
        for _ in range(cfg.convs):
            layers += [nn.Conv2d(c, cfg.width, 3, 1, 1), nn.PReLU(cfg.width)]
            c = cfg.width
        layers += [nn.Conv2d(c, cfg.channels * cfg.scale**2, 3, 1, 1), nn.PixelShuffle(cfg.scale)]
        self.body = nn.Sequential(*layers)
        nn.init.zeros_(self.body[-2].weight)  # start as the plain bilinear upsample
        nn.init.zeros_(self.body[-2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upscale(x)

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] in [-1, 1] -> [B, C, H * scale, W * scale] in [-1, 1]."""
        assert x.ndim == 4 and x.shape[1] == self.channels, (
            f"images must be [B, {self.channels}, H, W]"
        )
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return (base + self.body(x)).clamp(-1, 1)

    def check_input(self, batch: int = 2) -> torch.Tensor:
        """A fixed test image for load-time validation (a gradient and a checkerboard)."""
        s = 16
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
        checker = ((torch.arange(s)[:, None] + torch.arange(s)[None]) % 2).float() * 2 - 1
        img = torch.stack([xx, yy, checker][: self.channels])
        return img[None].expand(batch, -1, -1, -1).contiguous()
