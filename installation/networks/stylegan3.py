"""StyleGAN3 generator ("Alias-Free Generative Adversarial Networks", Karras et al. 2021),
configs T (translation equivariant, 3x3 convs, separable filters) and R (rotation
equivariant: 1x1 convs, radially symmetric down-sampling filters).

The signal is treated as continuous: Fourier features sampled on a grid replace the learned
constant, and every nonlinearity runs at twice the sampling rate between a windowed-sinc
upsampling filter and a low-pass downsampling filter (the filtered leaky ReLU). Cutoffs
and stopbands follow a geometric progression from the first layer to the output; the last
layers are critically sampled. Rotating or translating the Fourier features moves the whole
picture without texture sticking: the show exposes that as parameters.

Layer names follow StyleGAN3 network snapshots (input, L{i}_{size}_{channels}).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
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
    grouped_conv,
    lowpass_filter,
    lrelu_gain_clamp,
    modulate,
    upfirdn2d,
)


@dataclass(frozen=True)
class StyleGAN3Config:
    z_dim: int = 512
    w_dim: int = 512
    resolution: int = 256
    channels: int = 3
    channel_base: int = 32768
    channel_max: int = 512
    mapping_layers: int = 2
    mapping_lr: float = 0.01
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    conv_kernel: int = 3  # 1 for config R
    filter_size: int = 6
    lrelu_upsampling: int = 2
    radial_filters: bool = False  # True for config R
    conv_clamp: float | None = 256.0

    def __post_init__(self) -> None:
        if (
            self.resolution < 16
            or self.resolution > 2048
            or self.resolution & (self.resolution - 1)
        ):
            raise ValueError(
                f"StyleGAN3 resolution must be a power of two from 16 to 2048, got {self.resolution}"
            )
        if not (
            1 <= self.z_dim <= 4096 and 1 <= self.w_dim <= 4096 and 1 <= self.channel_max <= 4096
        ):
            raise ValueError("z_dim, w_dim and channel_max must be in 1..4096")
        if not (
            1 <= self.channel_base <= 2**21
            and 3 <= self.num_layers <= 32
            and 0 <= self.num_critical < self.num_layers
        ):
            raise ValueError("channel_base, num_layers or num_critical out of range")
        if (
            self.conv_kernel not in (1, 3)
            or self.filter_size not in range(1, 17)
            or self.lrelu_upsampling not in (1, 2, 4)
        ):
            raise ValueError(
                "conv_kernel must be 1 or 3, filter_size 1..16, lrelu_upsampling 1, 2 or 4"
            )
        if not (
            0 <= self.margin_size <= 64
            and 1 <= self.mapping_layers <= 16
            and self.channels in (1, 3, 4)
        ):
            raise ValueError("margin_size 0..64, mapping_layers 1..16, channels 1, 3 or 4")

    @property
    def latent_dim(self) -> int:
        return self.z_dim

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LayerSpec:
    name: str
    is_torgb: bool
    critical: bool
    cin: int
    cout: int
    in_size: int
    out_size: int
    in_rate: int
    out_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    kernel: int
    up: int
    down: int
    up_taps: int
    down_taps: int
    padding: tuple[int, int, int, int]


def layer_specs(cfg: StyleGAN3Config) -> tuple[dict, list[LayerSpec]]:
    """The alias-free schedule (paper, section 3 and appendix F), from the config alone."""
    n = cfg.num_layers
    last_cutoff = cfg.resolution / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - cfg.num_critical), 1)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** exponents
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, cfg.resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + cfg.margin_size * 2
    sizes[-2:] = cfg.resolution
    channels = np.rint(np.minimum((cfg.channel_base / 2) / cutoffs, cfg.channel_max))
    channels[-1] = cfg.channels
    first = {
        "channels": int(channels[0]),
        "size": int(sizes[0]),
        "rate": float(rates[0]),
        "bandwidth": float(cutoffs[0]),
    }
    specs = []
    for i in range(n + 1):
        p = max(i - 1, 0)
        torgb = i == n
        kernel = 1 if torgb else cfg.conv_kernel
        tmp_rate = max(rates[p], rates[i]) * (1 if torgb else cfg.lrelu_upsampling)
        up, down = int(np.rint(tmp_rate / rates[p])), int(np.rint(tmp_rate / rates[i]))
        up_taps = cfg.filter_size * up if up > 1 and not torgb else 1
        down_taps = cfg.filter_size * down if down > 1 and not torgb else 1
        # Size before downsampling minus size after upsampling, plus what the filters eat;
        # the low side gets the extra `up` so samples sit symmetrically (appendix C.3).
        total = (
            (int(sizes[i]) - 1) * down
            + 1
            - (int(sizes[p]) + kernel - 1) * up
            + up_taps
            + down_taps
            - 2
        )
        lo = (total + up) // 2
        specs.append(
            LayerSpec(
                f"L{i}_{int(sizes[i])}_{int(channels[i])}",
                torgb,
                i >= n - cfg.num_critical,
                int(channels[p]),
                int(channels[i]),
                int(sizes[p]),
                int(sizes[i]),
                int(rates[p]),
                int(rates[i]),
                float(cutoffs[p]),
                float(cutoffs[i]),
                float(half_widths[p]),
                float(half_widths[i]),
                kernel,
                up,
                down,
                up_taps,
                down_taps,
                (lo, total - lo, lo, total - lo),
            )
        )
    return first, specs


def stylegan3_shapes(cfg: StyleGAN3Config) -> dict[str, tuple[int, ...]]:
    """Every persistent tensor's shape, computed without allocating any."""
    shapes = mapping_shapes(cfg.z_dim, cfg.w_dim, cfg.mapping_layers)
    first, specs = layer_specs(cfg)
    c = first["channels"]
    shapes.update(
        {
            "synthesis.input.weight": (c, c),
            "synthesis.input.affine.weight": (4, cfg.w_dim),
            "synthesis.input.affine.bias": (4,),
            "synthesis.input.transform": (3, 3),
            "synthesis.input.freqs": (c, 2),
            "synthesis.input.phases": (c,),
        }
    )
    for s in specs:
        p = f"synthesis.{s.name}"
        shapes.update(
            {
                f"{p}.affine.weight": (s.cin, cfg.w_dim),
                f"{p}.affine.bias": (s.cin,),
                f"{p}.weight": (s.cout, s.cin, s.kernel, s.kernel),
                f"{p}.bias": (s.cout,),
                f"{p}.magnitude_ema": (),
            }
        )
    return shapes


def user_transform(rotate_deg: float, translate: tuple[float, float]) -> torch.Tensor:
    """The inverse of "rotate by `rotate_deg`, then shift by `translate`", as the input layer
    expects it (it transforms sampling coordinates, i.e. the inverse of the picture's motion)."""
    a = math.radians(rotate_deg)
    c, s = math.cos(a), math.sin(a)
    m = torch.tensor(
        [[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]], dtype=torch.float64
    )
    return torch.linalg.inv(m).float()


class FourierInput(nn.Module):
    """Fourier features on a grid; w sets a rotation and translation of them (a learned affine)."""

    def __init__(self, w_dim: int, channels: int, size: int, rate: float, bandwidth: float) -> None:
        super().__init__()
        self.size, self.rate, self.bandwidth, self.nchan = size, rate, bandwidth, channels
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = EqualizedLinear(w_dim, 4)
        self.register_buffer("transform", torch.eye(3))
        # Random frequencies in a disc of radius `bandwidth` and random phases; from the file.
        self.register_buffer("freqs", torch.randn(channels, 2))
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def forward(self, w: torch.Tensor, controls: StyleControls, dtype: torch.dtype) -> torch.Tensor:
        b = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)  # (cos, sin) of a rotation, then a shift
        rot = torch.eye(3, device=w.device).repeat(b, 1, 1)
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        shift = torch.eye(3, device=w.device).repeat(b, 1, 1)
        shift[:, 0, 2], shift[:, 1, 2] = -t[:, 2], -t[:, 3]
        stored = self.transform.float()
        if controls.rotate or controls.translate != (0.0, 0.0):
            stored = user_transform(controls.rotate, controls.translate).to(w.device) @ stored
        m = rot @ shift @ stored
        freqs = self.freqs.float()[None] @ m[:, :2, :2]
        phases = self.phases.float()[None] + (self.freqs.float()[None] @ m[:, :2, 2:]).squeeze(2)
        # Frequencies a user transform pushes past the band fade out instead of aliasing.
        amp = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.rate / 2 - self.bandwidth)).clamp(
            0, 1
        )
        # Pixel centres of a size x size grid spanning size/rate units around the origin.
        coords = (
            torch.arange(self.size, device=w.device, dtype=torch.float32) * 2 + 1 - self.size
        ) / self.size
        coords = coords * (0.5 * self.size / self.rate)
        gy, gx = torch.meshgrid(coords, coords, indexing="ij")
        grid = torch.stack([gx, gy], dim=-1)  # [H, W, 2] as (x, y)
        x = torch.einsum("hwk,bck->bhwc", grid, freqs) + phases[:, None, None, :]
        x = torch.sin(x * (2 * math.pi)) * amp[:, None, None, :]
        x = x @ (self.weight.float() / math.sqrt(self.nchan)).t()
        return x.permute(0, 3, 1, 2).to(dtype)


class AliasFreeLayer(nn.Module):
    """Modulated conv, then bias + filtered leaky ReLU: upsample, lrelu, low-pass, downsample."""

    def __init__(self, spec: LayerSpec, cfg: StyleGAN3Config) -> None:
        super().__init__()
        self.spec, self.clamp = spec, cfg.conv_clamp
        self.affine = EqualizedLinear(cfg.w_dim, spec.cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(spec.cout, spec.cin, spec.kernel, spec.kernel))
        self.bias = nn.Parameter(torch.zeros(spec.cout))
        self.register_buffer("magnitude_ema", torch.ones([]))  # running mean square of the input
        tmp_rate = max(spec.in_rate, spec.out_rate) * (1 if spec.is_torgb else cfg.lrelu_upsampling)
        up_f = lowpass_filter(spec.up_taps, spec.in_cutoff, spec.in_half_width * 2, tmp_rate)
        radial = cfg.radial_filters and not spec.critical
        down_f = lowpass_filter(
            spec.down_taps, spec.out_cutoff, spec.out_half_width * 2, tmp_rate, radial
        )
        self.register_buffer("up_filter", up_f, persistent=False)
        self.register_buffer("down_filter", down_f, persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.spec
        styles = self.affine(w)
        if s.is_torgb:
            styles = styles / math.sqrt(s.cin * s.kernel**2)
        kernels = modulate(
            self.weight,
            styles,
            demodulate=not s.is_torgb,
            input_gain=self.magnitude_ema.float().rsqrt(),
        )
        x = grouped_conv(x, kernels, padding=s.kernel - 1)
        x = x + self.bias.to(x.dtype)[:, None, None]
        x = upfirdn2d(x, self.up_filter, up=s.up, padding=s.padding, gain=s.up**2)
        x = lrelu_gain_clamp(
            x, 1.0 if s.is_torgb else SQRT2, 1.0 if s.is_torgb else 0.2, self.clamp
        )
        x = upfirdn2d(x, self.down_filter, down=s.down)
        assert x.shape[2:] == (s.out_size, s.out_size), (s.name, tuple(x.shape))
        return x


class Synthesis(nn.Module):
    def __init__(self, cfg: StyleGAN3Config) -> None:
        super().__init__()
        first, specs = layer_specs(cfg)
        self.input = FourierInput(
            cfg.w_dim, first["channels"], first["size"], first["rate"], first["bandwidth"]
        )
        self.layer_names = [s.name for s in specs]
        for s in specs:
            self.add_module(s.name, AliasFreeLayer(s, cfg))
        self.output_scale = cfg.output_scale

    def forward(
        self, ws: torch.Tensor, controls: StyleControls, dtype: torch.dtype
    ) -> torch.Tensor:
        x = self.input(ws[:, 0], controls, dtype)
        for i, name in enumerate(self.layer_names):
            x = getattr(self, name)(x, ws[:, i + 1])
        return x.float() * self.output_scale


class StyleGAN3Generator(StyleGenerator):
    config_class = StyleGAN3Config

    def __init__(self, cfg: StyleGAN3Config) -> None:
        super().__init__(cfg)  # the mapping network and the model interface's sizes
        self.synthesis = Synthesis(cfg)

    def synthesize(self, ws: torch.Tensor, controls: StyleControls) -> torch.Tensor:
        assert ws.shape[1:] == (self.num_ws, self.w_dim), (
            f"ws must be [B, {self.num_ws}, {self.w_dim}]"
        )
        return self.synthesis(ws, controls, self.synthesis.input.weight.dtype)
