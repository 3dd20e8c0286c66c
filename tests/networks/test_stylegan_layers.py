"""StyleGAN building blocks: the fast resampling path equals the direct definition, shapes
computed from a config equal the built network's, and fp16 stays close to fp32."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from installation.importing import formats
from installation.importing.importer import build_generator
from installation.networks import (
    SHAPES,
    StyleGAN2Config,
    StyleGAN3Config,
    build_model,
    expected_shapes,
)
from installation.networks.stylegan_base import StyleControls
from installation.networks.stylegan_layers import _upfirdn2d_conv, upfirdn2d

DATA = Path(__file__).parent.parent / "data" / "stylegan"


@pytest.mark.parametrize(("up", "down"), [(1, 1), (2, 1), (4, 1), (1, 2), (1, 3)])
@pytest.mark.parametrize("padding", [(0, 0, 0, 0), (3, 2, 1, 4), (9, 8, 9, 8), (-1, 2, 0, -2)])
@pytest.mark.parametrize("taps", [4, 7, 12, (5, 5)])
def test_sliced_upfirdn_equals_the_convolution(up: int, down: int, padding, taps) -> None:
    gen = torch.Generator().manual_seed(up * 10 + down)
    x = torch.randn(2, 3, 17, 15, generator=gen)
    f = torch.randn(taps if isinstance(taps, tuple) else (taps,), generator=gen)
    if f.ndim == 2 and up > 1:
        pytest.skip("radial filters only ever downsample")
    direct = _upfirdn2d_conv(x, f, up=up, down=down, padding=padding, gain=up * up)
    fast = upfirdn2d(x, f, up=up, down=down, padding=padding, gain=up * up)
    assert fast.shape == direct.shape
    torch.testing.assert_close(fast, direct, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("architecture", "config"),
    [
        ("stylegan2", StyleGAN2Config(resolution=256).to_dict()),
        (
            "stylegan2",
            StyleGAN2Config(
                resolution=64, z_dim=64, w_dim=128, channel_max=64, channels=1
            ).to_dict(),
        ),
        ("stylegan3-t", StyleGAN3Config(resolution=256).to_dict()),
        (
            "stylegan3-r",
            StyleGAN3Config(
                resolution=64, conv_kernel=1, radial_filters=True, channel_max=64
            ).to_dict(),
        ),
    ],
)
def test_computed_shapes_are_the_built_networks(architecture: str, config: dict) -> None:
    module = build_model(architecture, config)
    built = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    assert expected_shapes(architecture, config) == built
    assert set(SHAPES) == {"stylegan2", "stylegan3-t", "stylegan3-r"}


def _can_run_fp16_on_cpu() -> bool:
    try:
        torch.nn.functional.conv2d(
            torch.ones(1, 1, 3, 3, dtype=torch.float16), torch.ones(1, 1, 1, 1, dtype=torch.float16)
        )
    except RuntimeError:
        return False
    return True


@pytest.mark.skipif(
    not _can_run_fp16_on_cpu(), reason="this torch has no fp16 convolution on the CPU"
)
@pytest.mark.parametrize("name", ["sg2", "sg3t", "sg3r"])
def test_fp16_stays_close_to_fp32(name: str) -> None:
    """The precision CUDA runs in, checked here on the CPU: styles and kernels stay fp32."""
    module = build_generator(
        formats.read_any((DATA / f"{name}.pkl").read_bytes(), Path(name)), Path(name)
    )
    z = torch.randn(2, module.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full = module.decode(z, StyleControls(psi=0.7))
        half = module.to(torch.float16).decode(z, StyleControls(psi=0.7))
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    assert float((half - full).abs().max()) < 0.02 * max(1.0, float(full.abs().max()))
