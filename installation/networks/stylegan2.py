"""StyleGAN2 generator ("Analyzing and Improving the Image Quality of StyleGAN", Karras et
al. 2020), config F with the skip architecture, as StyleGAN2-ADA trains it.

A learned 4x4 constant goes through one block per resolution; each block doubles the size
(a modulated 3x3 transposed convolution, then the [1,3,3,1] blur), runs a second modulated
convolution, adds per-pixel noise, and contributes an RGB image through a 1x1 modulated
"toRGB"; the RGB images are upsampled and summed (the skip generator of section 4.1).

Layer names follow the layout of StyleGAN2-ADA network snapshots, so their state dicts load
with strict=True after the importer's checks (installation/importing/).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from installation.networks.stylegan_base import (
    StyleControls,
    StyleGenerator,
    mapping_shapes,
)
from installation.networks.stylegan_layers import (
    SQRT2,
    EqualizedLinear,
    binomial_filter,
    grouped_conv,
    lrelu_gain_clamp,
    modulate,
    upfirdn2d,
)

RESOLUTIONS = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


@dataclass(frozen=True)
class StyleGAN2Config:
    z_dim: int = 512
    w_dim: int = 512
    resolution: int = 256
    channels: int = 3
    channel_base: int = 32768  # feature maps at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    mapping_layers: int = 8
    mapping_lr: float = 0.01
    conv_clamp: float | None = 256.0

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS or self.resolution < 8:
            raise ValueError(
                f"StyleGAN2 resolution must be a power of two from 8 to 2048, got {self.resolution}"
            )
        if not (1 <= self.z_dim <= 4096 and 1 <= self.w_dim <= 4096):
            raise ValueError("z_dim and w_dim must be in 1..4096")
        if not (1 <= self.channel_max <= 4096 and 1 <= self.channel_base <= 2**20):
            raise ValueError("channel_max must be in 1..4096 and channel_base in 1..2^20")
        if self.channels not in (1, 3, 4) or not (1 <= self.mapping_layers <= 16):
            raise ValueError("channels must be 1, 3 or 4 and mapping_layers in 1..16")

    @property
    def latent_dim(self) -> int:
        return self.z_dim

    def to_dict(self) -> dict:
        return asdict(self)

    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.resolution)) + 1)]

    def width(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        return 2 * int(math.log2(self.resolution)) - 2


def stylegan2_shapes(cfg: StyleGAN2Config) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, from the config alone: importers compare these with a file's
    tensors before anything is allocated (a tiny config cannot ask for gigabytes)."""
    shapes = mapping_shapes(cfg.z_dim, cfg.w_dim, cfg.mapping_layers)

    def layer(prefix: str, cin: int, cout: int, res: int) -> None:
        shapes.update(
            {
                f"{prefix}.affine.weight": (cin, cfg.w_dim),
                f"{prefix}.affine.bias": (cin,),
                f"{prefix}.weight": (cout, cin, 3, 3),
                f"{prefix}.bias": (cout,),
                f"{prefix}.noise_const": (res, res),
                f"{prefix}.noise_strength": (),
            }
        )

    for res in cfg.block_resolutions():
        out = cfg.width(res)
        p = f"synthesis.b{res}"
        if res == 4:
            shapes[f"{p}.const"] = (out, 4, 4)
        else:
            layer(f"{p}.conv0", cfg.width(res // 2), out, res)
        layer(f"{p}.conv1", out, out, res)
        shapes.update(
            {
                f"{p}.torgb.affine.weight": (out, cfg.w_dim),
                f"{p}.torgb.affine.bias": (out,),
                f"{p}.torgb.weight": (cfg.channels, out, 1, 1),
                f"{p}.torgb.bias": (cfg.channels,),
            }
        )
    return shapes


class StyledConv(nn.Module):
    """Modulated 3x3 conv (optionally upsampling 2x) + noise + bias + lrelu, clamped."""

    def __init__(
        self, cin: int, cout: int, w_dim: int, res: int, up: bool, clamp: float | None
    ) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("noise_const", torch.randn(res, res))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("blur", binomial_filter(separable=True), persistent=False)
        self.up, self.res, self.clamp = up, res, clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, controls: StyleControls) -> torch.Tensor:
        kernels = modulate(self.weight, self.affine(w), demodulate=True)
        if self.up:
            # Transposed conv over the full support, then the blur crops it back to 2x the
            # input: (2H + 1) + 2 - 3 = 2H. Gain 4 restores the energy of zero insertion.
            x = grouped_conv(x, kernels, padding=0, transpose_stride=2)
            x = upfirdn2d(x, self.blur, padding=(1, 1, 1, 1), gain=4.0)
        else:
            x = grouped_conv(x, kernels, padding=1)
        strength = self.noise_strength * controls.noise_strength
        if controls.noise_mode == "const":
            x = x + (self.noise_const * strength).to(x.dtype)
        elif controls.noise_mode == "random":
            x = x + (torch.randn(x.shape[0], 1, self.res, self.res, device=x.device) * strength).to(
                x.dtype
            )
        return lrelu_gain_clamp(x + self.bias.to(x.dtype)[:, None, None], SQRT2, 0.2, self.clamp)


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation: a style-weighted projection to colour."""

    def __init__(self, cin: int, channels: int, w_dim: int, clamp: float | None) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, cin, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.gain, self.clamp = 1 / math.sqrt(cin), clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        kernels = modulate(self.weight, self.affine(w) * self.gain, demodulate=False)
        x = grouped_conv(x, kernels, padding=0) + self.bias.to(x.dtype)[:, None, None]
        return lrelu_gain_clamp(x, 1.0, 1.0, self.clamp)


class SynthesisBlock(nn.Module):
    def __init__(self, cfg: StyleGAN2Config, res: int) -> None:
        super().__init__()
        out = cfg.width(res)
        self.res = res
        if res == 4:
            self.const = nn.Parameter(torch.randn(out, 4, 4))
        else:
            self.conv0 = StyledConv(cfg.width(res // 2), out, cfg.w_dim, res, True, cfg.conv_clamp)
        self.conv1 = StyledConv(out, out, cfg.w_dim, res, False, cfg.conv_clamp)
        self.torgb = ToRGB(out, cfg.channels, cfg.w_dim, cfg.conv_clamp)
        self.register_buffer("blur", binomial_filter(separable=True), persistent=False)

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        controls: StyleControls,
        dtype: torch.dtype,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ws: the block's [B, 3, w_dim] (conv0, conv1, toRGB; the 4x4 block skips conv0)."""
        if x is None:
            x = self.const.to(dtype)[None].expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 1], controls)
        else:
            x = self.conv0(x, ws[:, 0], controls)
            x = self.conv1(x, ws[:, 1], controls)
        y = self.torgb(x, ws[:, 2]).float()
        if img is not None:
            # 2x upsample of the running RGB image: zero insertion + blur, padded (2, 1).
            img = upfirdn2d(img, self.blur, up=2, padding=(2, 1, 2, 1), gain=4.0)
            y = img + y
        return x, y


class Synthesis(nn.Module):
    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        self.resolutions = cfg.block_resolutions()
        for res in self.resolutions:
            self.add_module(f"b{res}", SynthesisBlock(cfg, res))

    def forward(
        self, ws: torch.Tensor, controls: StyleControls, dtype: torch.dtype
    ) -> torch.Tensor:
        x = img = None
        for i, res in enumerate(self.resolutions):
            # Block i reads ws[2i-1 .. 2i+1]: its toRGB shares a w with the next block's conv0.
            lo = 2 * i - 1
            block_ws = ws[:, max(lo, 0) : 2 * i + 2]
            if lo < 0:
                block_ws = torch.cat([block_ws[:, :1], block_ws], dim=1)
            x, img = getattr(self, f"b{res}")(x, img, block_ws.to(ws.dtype), controls, dtype)
        assert img is not None
        return img


class StyleGAN2Generator(StyleGenerator):
    config_class = StyleGAN2Config

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__(cfg)  # the mapping network and the model interface's sizes
        self.synthesis = Synthesis(cfg)

    def synthesize(self, ws: torch.Tensor, controls: StyleControls) -> torch.Tensor:
        assert ws.shape[1:] == (self.num_ws, self.w_dim), (
            f"ws must be [B, {self.num_ws}, {self.w_dim}]"
        )
        dtype = self.synthesis.b4.const.dtype
        return self.synthesis(ws, controls, dtype)
