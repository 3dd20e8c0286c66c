"""The few-shot GAN's discriminator: a real/fake judge that must also redraw what it saw.

From Liu et al. (ICLR 2021): the discriminator is regularised as a self-supervised
autoencoder. On real images two small decoders rebuild (a) the whole image from D's 8x8
feature map and (b) one random quarter of the image from the matching quarter of D's 16x16
map. A D that can rebuild its input must keep features that describe it, not just the few
that tell real from fake, which is what stops it overfitting a small dataset. The paper
scores the rebuild with LPIPS (pretrained weights we would have to download); we use L1 +
MSE on pixels at a quarter of the training size, which needs nothing.

Spectral norm on every convolution, batch norm in the down blocks, as in the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

D_PRESETS = {
    "lite": {1024: 8, 512: 8, 256: 8, 128: 16, 64: 32, 32: 64, 16: 128, 8: 128},
    "full": {1024: 16, 512: 32, 256: 64, 128: 128, 64: 256, 32: 384, 16: 512, 8: 512},
}


def _conv(cin: int, cout: int, k: int, s: int = 1, p: int = 0) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, s, p, bias=False))


class DownBlock(nn.Module):
    """Halve the size: a strided 4x4 conv beside an average-pooled 1x1 shortcut, summed."""

    def __init__(self, cin: int, cout: int, deep: bool = True) -> None:
        super().__init__()
        layers = [_conv(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
        if deep:  # a second conv; skipped at large sizes in `lite`, where it costs the most
            layers += [_conv(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
        self.main = nn.Sequential(*layers)
        self.skip = nn.Sequential(
            nn.AvgPool2d(2), _conv(cin, cout, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) / 2


class Decoder(nn.Module):
    """An 8x8 feature map -> an image `out` pixels wide (nearest x2, conv, BN, GLU blocks)."""

    def __init__(self, cin: int, out: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(8)]
        size, c = 8, cin
        while size < out:
            nc = max(16, c // 2)
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                _conv(c, 2 * nc, 3, 1, 1),
                nn.BatchNorm2d(2 * nc),
                nn.GLU(dim=1),
            ]
            size, c = size * 2, nc
        layers += [_conv(c, channels, 3, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class FewShotDiscriminator(nn.Module):
    def __init__(
        self, resolution: int, channels: int = 3, preset: str = "lite", width_mult: float = 1.0
    ) -> None:
        super().__init__()
        w = {s: max(8, round(c * width_mult)) for s, c in D_PRESETS[preset].items()}
        self.resolution = resolution
        self.stem = nn.Sequential(_conv(channels, w[resolution], 3, 1, 1), nn.LeakyReLU(0.2))
        sizes = [s for s in sorted(w, reverse=True) if 8 <= s < resolution]
        downs, c = [], w[resolution]
        for s in sizes:
            downs.append(DownBlock(c, w[s], deep=preset == "full" or s <= 32))
            c = w[s]
        self.downs = nn.ModuleList(downs)
        self.sizes = sizes  # the size each down block produces
        self.head = nn.Sequential(
            _conv(w[8], w[8], 1), nn.BatchNorm2d(w[8]), nn.LeakyReLU(0.2), _conv(w[8], 1, 4)
        )
        self.recon_size = max(32, resolution // 4)
        self.decode_whole = Decoder(w[8], self.recon_size, channels)
        self.decode_part = Decoder(w[16], self.recon_size, channels)

    def forward(
        self, x: torch.Tensor, reconstruct: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Logits [B, 25]; with `reconstruct`: (logits, whole, part, quarter) where `quarter`
        [B] says which quarter (0..3: top-left, top-right, bottom-left, bottom-right) `part`
        rebuilds."""
        h = self.stem(x)
        feats = {}
        for size, block in zip(self.sizes, self.downs, strict=True):
            h = block(h)
            feats[size] = h
        logits = self.head(feats[8]).flatten(1)
        if not reconstruct:
            return logits
        quarter = torch.randint(0, 4, (x.shape[0],), device=x.device)
        f16 = feats[16]
        crops = torch.stack(
            [
                f16[i, :, (q // 2) * 8 : (q // 2) * 8 + 8, (q % 2) * 8 : (q % 2) * 8 + 8]
                for i, q in enumerate(quarter.tolist())
            ]
        )
        return logits, self.decode_whole(feats[8]), self.decode_part(crops), quarter

    def recon_loss(
        self, real: torch.Tensor, whole: torch.Tensor, part: torch.Tensor, quarter: torch.Tensor
    ) -> torch.Tensor:
        """L1 + MSE of both rebuilds against the real image (and its quarter) at decoder size."""
        s = self.recon_size
        target_whole = F.interpolate(real, size=(s, s), mode="area")
        half = real.shape[-1] // 2
        quarters = torch.stack(
            [
                real[
                    i,
                    :,
                    (q // 2) * half : (q // 2) * half + half,
                    (q % 2) * half : (q % 2) * half + half,
                ]
                for i, q in enumerate(quarter.tolist())
            ]
        )
        target_part = F.interpolate(quarters, size=(s, s), mode="area")
        loss = 0.0
        for pred, target in ((whole, target_whole), (part, target_part)):
            loss = loss + F.l1_loss(pred, target) + F.mse_loss(pred, target)
        return loss
