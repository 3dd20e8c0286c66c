"""A few-shot GAN generator, written from Liu et al., "Towards Faster and Stabilized GAN
Training for High-fidelity Few-shot Image Synthesis" (ICLR 2021, "FastGAN").

The paper's ideas, in our own code:
- a 4x4 start from the latent (transposed convolution), then upsampling blocks of
  nearest-neighbour x2, 3x3 convolution to twice the channels, batch norm and a GLU (the
  gate halves the channels again: cheap, and it trains more stably than ReLU);
- skip-layer excitation (SLE): a low-resolution feature map is pooled to 4x4 and squeezed
  into one gate per channel of a high-resolution map (8 -> 128, 16 -> 256 and so on), so
  the coarse layout steers the fine layers directly;
- noise injection after each upsampling convolution (a learned per-channel weight, zero at
  the start), for the fine texture a deterministic net cannot invent;
- style mixing: the excitation gates can come from a second latent, so one latent's
  layout wears another's colour and texture (`decode(z, mix_z=..., mix=...)`).

Two presets by width. `lite` is shaped for a 2-core CPU: its last doubling is a pixel
shuffle (a 3x3 convolution at half size to 12 channels, rearranged into 3 at full size),
because a convolution at full resolution is what costs the frame. `full` is the paper's
shape for GPUs, two convolutions per block up to 1024 px.

A second head (`head: field`, for smooth, flowing pictures such as the shipped default's):
the blocks stop at `field_size` (64 px) and draw a handful of smooth fields there; the
fields are bilinearly enlarged to the output size and a per-pixel network (1x1
convolutions, half its units sine, half leaky ReLU) turns them into colour. Marbling, ink
and nebulae are exactly that, a palette of a few warped fields, so the head can draw sharp
bands and veins with no full-resolution convolution, and no grain: nothing at the output
size sees a neighbour. Its weights do not depend on the output size, so a generator
trained at 128 px can draw at 256 (the fields are sampled more densely, not invented).

Noise in the show: a fixed noise image per block, drawn once from a seed (not stored in the
checkpoint), so a still latent gives a still picture; training draws fresh noise each step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

RESOLUTIONS = (64, 128, 256, 512, 1024)
PRESETS: dict[str, dict[int, int]] = {
    # channels of the feature map at each size; the last doubling of `lite` is a pixel shuffle
    "lite": {4: 128, 8: 128, 16: 96, 32: 64, 64: 32, 128: 16, 256: 12, 512: 8, 1024: 8},
    "full": {4: 1024, 8: 512, 16: 256, 32: 128, 64: 128, 128: 64, 256: 32, 512: 16, 1024: 8},
}
# Skip-layer excitation pairs (source size -> target size), the paper's choice.
SLE_PAIRS = ((4, 64), (8, 128), (16, 256), (32, 512))
HEADS = ("rgb", "field")
# Config keys that came with the field head; an rgb card leaves them out.
FIELD_KEYS = ("head", "field_size", "fields", "head_hidden", "upsample", "noise", "padding")


@dataclass(frozen=True)
class FewShotConfig:
    latent_dim: int = 128
    resolution: int = 256
    channels: int = 3
    preset: str = "lite"
    width_mult: float = 1.0  # scales every preset width (a smaller or larger net)
    widths: dict[int, int] = field(default_factory=dict)  # filled from preset; stored in the card
    head: str = "rgb"  # rgb: a convolution to colour | field: smooth fields, per-pixel colour
    field_size: int = 64  # field head: the size the blocks stop at and the fields are drawn
    fields: int = 16  # field head: how many fields
    head_hidden: int = 32  # field head: units of the per-pixel colour network
    # The trainer gives a field head bilinear upsampling and no injected noise: nearest
    # doubling leaves a grid in smooth fields that the sines turn into rows of rings, and
    # noise in a field is ripples, not texture (a still noise image under a moving walk).
    upsample: str = "nearest"  # nearest | bilinear: how the blocks double
    noise: bool = True  # noise injection in the blocks
    padding: str = "zeros"  # zeros | reflect: the blocks' convolutions at the image's edges

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(
                f"fewshot resolution must be one of {RESOLUTIONS}, got {self.resolution}"
            )
        if self.preset not in PRESETS:
            raise ValueError(
                f"fewshot preset must be one of {', '.join(PRESETS)}, got {self.preset!r}"
            )
        if self.latent_dim < 1 or self.channels not in (1, 3) or self.width_mult <= 0:
            raise ValueError("latent_dim must be positive, channels 1 or 3, width_mult positive")
        if self.head not in HEADS:
            raise ValueError(f"fewshot head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.head == "field" and not (
            16 <= self.field_size <= self.resolution and self.field_size in PRESETS["lite"]
        ):
            raise ValueError(
                f"field_size must be a power of two from 16 to the resolution, got {self.field_size}"
            )
        if self.padding not in ("zeros", "reflect"):
            raise ValueError(f"padding must be zeros or reflect, got {self.padding!r}")
        if self.upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be nearest or bilinear, got {self.upsample!r}")
        if self.fields < 1 or self.head_hidden < 2:
            raise ValueError("fields must be at least 1 and head_hidden at least 2")
        if not self.widths:
            w = {s: max(4, round(c * self.width_mult)) for s, c in PRESETS[self.preset].items()}
            object.__setattr__(self, "widths", w)
        else:  # from a card: JSON made the keys strings
            object.__setattr__(self, "widths", {int(k): int(v) for k, v in self.widths.items()})

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.head == "rgb":  # the field head's keys stay out: older cards compare equal
            for key in FIELD_KEYS:
                d.pop(key)
        return d

    @property
    def shuffle_last(self) -> bool:
        return self.preset == "lite" and self.head == "rgb"

    @property
    def top(self) -> int:
        """The size of the last block's map."""
        if self.head == "field":
            return self.field_size
        return self.resolution // 2 if self.shuffle_last else self.resolution


class NoiseInjection(nn.Module):
    """x + weight[c] * noise: fresh noise while training, a fixed image in eval mode."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.fixed: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
        b, _, h, w = x.shape
        if strength == 0.0:
            return x
        if self.training:
            noise = torch.randn(b, 1, h, w, device=x.device, dtype=x.dtype)
        else:
            if self.fixed is None or self.fixed.shape[-1] != w or self.fixed.device != x.device:
                gen = torch.Generator().manual_seed(1000 + h)
                self.fixed = torch.randn(1, 1, h, w, generator=gen).to(x.device)
            noise = self.fixed.to(x.dtype)
        return x + (strength * self.weight).to(x.dtype) * noise


class UpBlock(nn.Module):
    """x2 (nearest or bilinear), then `convs` times: 3x3 conv to 2 cout, noise, batch norm, GLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        convs: int = 1,
        upsample: str = "nearest",
        noise: bool = True,
        padding: str = "zeros",
    ) -> None:
        super().__init__()
        self.up = nn.Upsample(
            scale_factor=2,
            mode=upsample,
            **({"align_corners": False} if upsample != "nearest" else {}),
        )
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [
                nn.Conv2d(
                    cin if i == 0 else cout, 2 * cout, 3, 1, 1, bias=False, padding_mode=padding
                ),
                *([NoiseInjection(2 * cout)] if noise else []),
                nn.BatchNorm2d(2 * cout),
                nn.GLU(dim=1),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, noise: float = 1.0) -> torch.Tensor:
        x = self.up(x)
        for layer in self.body:
            x = layer(x, noise) if isinstance(layer, NoiseInjection) else layer(x)
        return x


class Excitation(nn.Module):
    """Skip-layer excitation: a low-resolution map -> one gate in (0, 1) per target channel."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(cin, cout, 4, 1, 0, bias=False),
            nn.LeakyReLU(0.1),
            nn.Conv2d(cout, cout, 1, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        return self.body(low)


class FieldHead(nn.Module):
    """Feature map -> `fields` smooth fields -> enlarged to the output -> colour per pixel."""

    # Sine units see their input times this. At 3 a young net drew rings on every ripple of
    # its fields; at 1 the bands come where the discriminator asks for them.
    FREQUENCY = 1.0

    def __init__(
        self, cin: int, fields: int, hidden: int, channels: int, padding: str = "zeros"
    ) -> None:
        super().__init__()
        self.to_fields = nn.Conv2d(cin, fields, 3, 1, 1, padding_mode=padding)
        self.mix = nn.Conv2d(fields, hidden, 1)
        self.to_rgb = nn.Conv2d(hidden, channels, 1)
        self.sines = hidden // 2

    def reset_parameters(self) -> None:
        """PyTorch's own init (the DCGAN init's N(0, 0.02) would leave the sines linear)."""
        for m in (self.to_fields, self.mix, self.to_rgb):
            m.reset_parameters()

    def forward(self, x: torch.Tensor, size: int) -> torch.Tensor:
        f = self.to_fields(x)
        if f.shape[-1] != size:
            f = F.interpolate(f, size=(size, size), mode="bilinear", align_corners=False)
        h = self.mix(f)
        sines, rest = h[:, : self.sines], h[:, self.sines :]
        if torch.is_grad_enabled():
            h = torch.cat([torch.sin(self.FREQUENCY * sines), F.leaky_relu(rest, 0.2)], dim=1)
        else:  # the show: in place, a quarter of the time (no copies of a 32-channel frame)
            sines.mul_(self.FREQUENCY).sin_()
            F.leaky_relu_(rest, 0.2)
        return self.to_rgb(h)


class FewShotGenerator(nn.Module):
    config_class = FewShotConfig

    def __init__(self, cfg: FewShotConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.resolution, self.channels = (
            cfg.latent_dim,
            cfg.resolution,
            cfg.channels,
        )
        w = cfg.widths
        self.init = nn.Sequential(
            nn.ConvTranspose2d(cfg.latent_dim, 2 * w[4], 4, 1, 0, bias=False),
            nn.BatchNorm2d(2 * w[4]),
            nn.GLU(dim=1),
        )
        # Feature sizes made by upsampling blocks: 8 .. resolution (or resolution / 2 for lite,
        # or the field size).
        top = cfg.top
        self.sizes = [s for s in sorted(w) if 8 <= s <= top]
        convs = 1 if cfg.preset == "lite" else 2
        self.blocks = nn.ModuleDict(
            {
                str(s): UpBlock(
                    w[s // 2], w[s], convs if s >= 16 else 1, cfg.upsample, cfg.noise, cfg.padding
                )
                for s in self.sizes
            }
        )
        self.sle = nn.ModuleDict(
            {str(dst): Excitation(w[src], w[dst]) for src, dst in SLE_PAIRS if dst in self.sizes}
        )
        if cfg.head == "field":
            self.to_rgb = FieldHead(w[top], cfg.fields, cfg.head_hidden, cfg.channels, cfg.padding)
        elif cfg.shuffle_last:
            self.to_rgb = nn.Sequential(
                nn.Conv2d(w[top], 4 * cfg.channels, 3, 1, 1), nn.PixelShuffle(2)
            )
        else:
            self.to_rgb = nn.Conv2d(w[top], cfg.channels, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)

    def _features(
        self,
        z: torch.Tensor,
        gates: dict[int, torch.Tensor] | None = None,
        upto: int | None = None,
        noise: float = 1.0,
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run the blocks; returns the last map and the excitation gates it used. `gates`
        given: use those instead of this latent's own (style mixing)."""
        x = self.init(z[:, :, None, None])
        feats = {4: x}
        own: dict[int, torch.Tensor] = {}
        sources = {dst: src for src, dst in SLE_PAIRS if str(dst) in self.sle}
        for s in self.sizes:
            if upto is not None and s > upto:
                break
            x = self.blocks[str(s)](x, noise)
            if s in sources:
                own[s] = self.sle[str(s)](feats[sources[s]])
                x = x * (gates[s] if gates is not None else own[s])
            feats[s] = x
        return x, own

    def excitations(self, z: torch.Tensor) -> dict[int, torch.Tensor]:
        """The gates latent `z` makes (only the low-resolution blocks run)."""
        need = max(src for src, dst in SLE_PAIRS if str(dst) in self.sle)
        x = self.init(z[:, :, None, None])
        feats = {4: x}
        for s in self.sizes:
            if s > need:
                break
            x = self.blocks[str(s)](x)
            feats[s] = x
        return {
            dst: self.sle[str(dst)](feats[src]) for src, dst in SLE_PAIRS if str(dst) in self.sle
        }

    def decode(
        self,
        z: torch.Tensor,
        mix_z: torch.Tensor | None = None,
        mix: float = 0.0,
        noise: float = 1.0,
    ) -> torch.Tensor:
        """Images in [-1, 1]. `mix` in 0..1 blends the excitation gates toward `mix_z`'s:
        `z` keeps the layout, `mix_z` lends its colour and texture. `noise` scales the
        injected noise (1: as trained; 0: none, a cleaner, softer picture)."""
        assert z.ndim == 2 and z.shape[1] == self.latent_dim, (
            f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}"
        )
        gates = None
        if mix_z is not None and mix > 0.0:
            own = self.excitations(z)
            other = self.excitations(mix_z.expand(z.shape[0], -1))
            gates = {k: torch.lerp(own[k], other[k], float(mix)) for k in own}
        x, _ = self._features(z, gates, noise=noise)
        if isinstance(self.to_rgb, FieldHead):
            x = torch.tanh(self.to_rgb(x, self.resolution))
        else:
            x = torch.tanh(self.to_rgb(x))
        assert x.shape[-1] == self.resolution
        return x
