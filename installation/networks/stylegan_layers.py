"""Building blocks shared by StyleGAN2 and StyleGAN3, written from the papers.

- Equalized learning rate (Karras et al. 2018): weights are stored at unit scale and scaled
  by 1/sqrt(fan_in) when used; the mapping network also divides its learning rate by 100.
- Modulated convolution with demodulation (Karras et al. 2020, section 2.2): a style
  scales each input channel of the kernel, then each output channel is renormalised.
- upfirdn (upsample by zero insertion, FIR filter, downsample): the resampling primitive of
  both papers; StyleGAN2 uses the [1, 3, 3, 1] binomial filter, StyleGAN3 windowed sincs.
- Kaiser-windowed low-pass design (Karras et al. 2021, appendix C) from Kaiser's formulas.

Styles and modulated kernels are computed in float32 whatever the activations' dtype: a
kernel is small, and fp16 overflow lives exactly there (squared sums of modulated weights).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit root-mean-square: the mapping network's input normalisation."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def lrelu_gain_clamp(
    x: torch.Tensor, gain: float, slope: float, clamp: float | None
) -> torch.Tensor:
    """Leaky ReLU (identity when slope is 1), times `gain` so activations keep unit variance,
    then clamped to +-clamp (the papers' conv_clamp, which keeps fp16 finite)."""
    if slope != 1.0:
        x = F.leaky_relu(x, slope)
    if gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


class EqualizedLinear(nn.Module):
    """y = x W^T * (lr_mul / sqrt(in)) + b * lr_mul, optionally through lrelu * sqrt(2)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        lr_mul: float = 1.0,
        bias_init: float = 0.0,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(
            x.float(), self.weight.float() * self.weight_gain, self.bias.float() * self.lr_mul
        )
        if self.activation == "lrelu":
            x = F.leaky_relu(x, 0.2) * SQRT2
        return x


def binomial_filter(
    taps: tuple[float, ...] = (1, 3, 3, 1), separable: bool = False
) -> torch.Tensor:
    """StyleGAN2's smoothing filter, unit DC gain: 1-D taps (applied along both axes, the
    fast path) or the equivalent 2-D outer product (as snapshots store it)."""
    f = torch.tensor(taps, dtype=torch.float32)
    f = f / f.sum()
    return f if separable else torch.outer(f, f)


def _along(x: torch.Tensor, dim: int, start: int, length: int, step: int = 1) -> torch.Tensor:
    index = [slice(None)] * x.ndim
    index[dim] = slice(start, start + step * (length - 1) + 1, step)
    return x[tuple(index)]


def _pad_along(x: torch.Tensor, dim: int, lo: int, hi: int) -> torch.Tensor:
    """Zero-pad (negative: crop) one of the last two dims."""
    if lo < 0:
        x = x.narrow(dim, -lo, x.shape[dim] + lo)
        lo = 0
    if hi < 0:
        x = x.narrow(dim, 0, x.shape[dim] + hi)
        hi = 0
    if lo or hi:
        x = F.pad(x, [lo, hi] if dim == x.ndim - 1 else [0, 0, lo, hi])
    return x


def fir_axis(
    x: torch.Tensor,
    f: torch.Tensor,
    dim: int,
    *,
    up: int = 1,
    down: int = 1,
    pad: tuple[int, int] = (0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """upfirdn along one axis, as a sum of shifted slices (polyphase when upsampling).

    CPU depthwise convolutions are slow, and zero insertion wastes (up-1)/up of the work:
    this touches each output sample once per non-zero tap, with no zeros materialised."""
    assert up == 1 or down == 1
    taps = (f.flip(0) * gain).tolist()
    k = len(taps)
    length = x.shape[dim]
    lo, hi = pad
    m = length * up + lo + hi - k + 1  # filtered length, before keeping every down-th
    if up == 1:
        xp = _pad_along(x, dim, lo, hi)
        n = (m - 1) // down + 1
        out = _along(xp, dim, 0, n, down) * taps[0]
        for j in range(1, k):
            out.add_(_along(xp, dim, j, n, down), alpha=taps[j])
        return out
    phases = []
    for r in range(up):
        k0 = (lo - r) % up
        shift = (r + k0 - lo) // up
        count = max(0, (m - r + up - 1) // up)
        phases.append((k0, shift, count, taps[k0::up]))
    p_lo = max(0, -min(s for _, s, _, _ in phases))
    q = phases[0][2]  # phase 0 has the most outputs; the others are computed as long, then cut
    p_hi = max(0, max(s + q + len(t) - 1 for _, s, _, t in phases) - length)
    xp = _pad_along(x, dim, p_lo, p_hi)
    outs = []
    for _, shift, count, phase_taps in phases:
        o = (
            _along(xp, dim, p_lo + shift, q) * phase_taps[0]
            if phase_taps
            else torch.zeros_like(_along(xp, dim, 0, q))
        )
        for j, tap in enumerate(phase_taps[1:], 1):
            o.add_(_along(xp, dim, p_lo + shift + j, q), alpha=tap)
        if count < q:  # shorter phases end in zeros that the final narrow drops
            o.narrow(dim, count, q - count).zero_()
        outs.append(o)
    y = torch.stack(outs, dim=dim + 1)
    shape = list(x.shape)
    shape[dim] = q * up
    return y.reshape(shape).narrow(dim, 0, m)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    *,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by inserting zeros, pad (negative crops), convolve with FIR `f` (1-D means
    separable), keep every `down`-th sample. padding is (left, right, top, bottom)."""
    left, right, top, bottom = padding
    if f is None:
        f = torch.ones(1)
    if f.ndim == 1 and (up == 1 or down == 1):
        # The cheaper axis order: upsample the width first (its interleave then shuffles the
        # smaller tensor); downsample the height first (contiguous rows, and it halves what
        # the width pass reads).
        g = gain**0.5
        if up > 1:
            x = fir_axis(x, f, 3, up=up, pad=(left, right), gain=g)
            return fir_axis(x, f, 2, up=up, pad=(top, bottom), gain=g)
        x = fir_axis(x, f, 2, down=down, pad=(top, bottom), gain=g)
        return fir_axis(x, f, 3, down=down, pad=(left, right), gain=g)
    if f.ndim == 2 and up == 1:
        return _fir_2d_down(x, f, down, padding, gain)
    return _upfirdn2d_conv(x, f, up=up, down=down, padding=padding, gain=gain)


def _fir_2d_down(
    x: torch.Tensor, f: torch.Tensor, down: int, padding: tuple[int, int, int, int], gain: float
) -> torch.Tensor:
    """A non-separable (radial) filter then downsampling, as a sum of shifted slices."""
    left, right, top, bottom = padding
    x = _pad_along(_pad_along(x, 2, top, bottom), 3, left, right)
    taps = (f.flip([0, 1]) * gain).tolist()
    kh, kw = f.shape
    nh = (x.shape[2] - kh) // down + 1
    nw = (x.shape[3] - kw) // down + 1
    out = None
    for i in range(kh):
        rows = _along(x, 2, i, nh, down)
        for j in range(kw):
            part = _along(rows, 3, j, nw, down)
            out = part * taps[i][j] if out is None else out.add_(part, alpha=taps[i][j])
    assert out is not None
    return out


def _upfirdn2d_conv(
    x: torch.Tensor,
    f: torch.Tensor,
    *,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float,
) -> torch.Tensor:
    """The direct definition, with depthwise convolutions (any filter, any factors)."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    left, right, top, bottom = padding
    x = _pad_along(_pad_along(x, 2, top, bottom), 3, left, right)
    # A true convolution (flipped kernel); the taps carry the gain that zero insertion lost.
    f = (f * gain ** (f.ndim / 2)).flip(list(range(f.ndim))).to(x.dtype)
    if f.ndim == 1:
        k = f.numel()
        x = F.conv2d(x, f.reshape(1, 1, 1, k).expand(c, 1, 1, k), stride=(1, down), groups=c)
        x = F.conv2d(x, f.reshape(1, 1, k, 1).expand(c, 1, k, 1), stride=(down, 1), groups=c)
    else:
        kh, kw = f.shape
        x = F.conv2d(x, f.reshape(1, 1, kh, kw).expand(c, 1, kh, kw), stride=down, groups=c)
    return x


def modulate(
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    demodulate: bool,
    input_gain: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sample kernels [B, O, I, k, k] in float32: weight scaled by styles along I, then
    (optionally) each output channel renormalised to unit L2 norm (demodulation)."""
    w = weight.float()
    s = styles.float()
    if demodulate:
        # Pre-normalising both factors changes nothing after demodulation but keeps the
        # squared sums near 1 (StyleGAN3 does this; harmless for StyleGAN2 too).
        w = w * w.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
    w = w.unsqueeze(0) * s[:, None, :, None, None]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    if input_gain is not None:
        w = w * input_gain.float()
    return w


def grouped_conv(
    x: torch.Tensor, w: torch.Tensor, *, padding: int, transpose_stride: int = 1
) -> torch.Tensor:
    """Apply per-sample kernels w [B, O, I, k, k] to x [B, I, H, W] as one grouped conv.
    With transpose_stride > 1 it is a strided transposed convolution (a true convolution
    of the zero-upsampled input, over its full support)."""
    b, o, i, kh, kw = w.shape
    xg = x.reshape(1, b * i, *x.shape[2:])
    if transpose_stride > 1:
        wt = w.transpose(1, 2).reshape(b * i, o, kh, kw).to(x.dtype)
        y = F.conv_transpose2d(xg, wt, stride=transpose_stride, groups=b)
    else:
        y = F.conv2d(xg, w.reshape(b * o, i, kh, kw).to(x.dtype), padding=padding, groups=b)
    return y.reshape(b, o, *y.shape[2:])


def kaiser_beta(attenuation_db: float) -> float:
    """Kaiser's empirical beta for a stopband attenuation in dB."""
    a = attenuation_db
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a > 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def kaiser_attenuation(numtaps: int, width: float) -> float:
    """Stopband attenuation (dB) of a Kaiser design; width is relative to Nyquist."""
    return 2.285 * (numtaps - 1) * math.pi * width + 7.95


def lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """A Kaiser-windowed low-pass FIR with unit DC gain; None for the identity (1 tap).

    Separable (1-D taps, windowed sinc) or radially symmetric (2-D, windowed jinc), the
    two choices of the alias-free paper's configs T and R."""
    if numtaps <= 1:
        return None
    nyquist = fs / 2
    beta = kaiser_beta(kaiser_attenuation(numtaps, width / nyquist))
    window = np.kaiser(numtaps, beta)
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / nyquist
        h = c * np.sinc(c * m) * window
        return torch.as_tensor(h / h.sum(), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    # On the CPU explicitly: the design is numbers, even when the network is being planned
    # on torch's meta device (shapes only).
    r = torch.as_tensor(np.hypot(*np.meshgrid(x, x)), dtype=torch.float64, device="cpu")
    arg = 2 * cutoff * math.pi * r
    # jinc: J1(2 pi fc r) / (pi r), whose limit at r = 0 is the cutoff fc itself.
    safe_r = torch.where(r > 0, r, torch.ones_like(r))
    f = torch.where(
        r > 0, torch.special.bessel_j1(arg) / (math.pi * safe_r), torch.full_like(r, cutoff)
    )
    f = f.numpy() * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)
