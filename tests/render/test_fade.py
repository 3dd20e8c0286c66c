"""The CPU crossfade: one decode per frame, each layer refreshed as often as it is visible."""

from __future__ import annotations

import numpy as np
import torch

from installation.render.fade import OneDecodeFader


class Model:
    def __init__(self, value: float, latent_dim: int = 4) -> None:
        self.value, self.latent_dim = value, latent_dim


def test_one_decode_per_frame_and_a_true_blend():
    calls: list[tuple[float, float]] = []

    def decode(model, z):
        calls.append((model.value, float(z[0])))
        return torch.full((3, 2, 2), model.value + float(z[0]))

    old, new = Model(0.0), Model(10.0)
    fader = OneDecodeFader()
    for frame in range(3):  # before the swap: the old model alone
        fader.picture(decode, old, None, np.array([frame, 0, 0, 0.0]), None, 1.0)
    calls.clear()
    frames = 40
    decoded_old_by_half = []
    for i in range(frames):
        mix = i / frames
        z = np.array([100.0 + i, 0, 0, 0])
        pz = np.array([200.0 + i, 0, 0, 0])
        before = len(calls)
        pic = fader.picture(decode, new, old, z, pz, mix)
        assert len(calls) == before + 1  # never two decodes in a frame
        # The blend of the two latest pictures, weighted by mix.
        latest_new = next(v + zz for v, zz in reversed(calls) if v == 10.0)
        latest_old = next(
            (v + zz for v, zz in reversed(calls) if v == 0.0), 2.0
        )  # 2.0: the pre-swap frame
        expected = latest_old + (latest_new - latest_old) * mix
        assert torch.allclose(pic, torch.full((3, 2, 2), expected))
        decoded_old_by_half.append(calls[-1][0] == 0.0)
    assert (
        calls[0][0] == 10.0
    )  # the first fade frame decodes the newcomer; the old picture is reused
    first, second = decoded_old_by_half[: frames // 2], decoded_old_by_half[frames // 2 :]
    assert sum(first) > sum(second) > 0  # the outgoing layer is refreshed less as it fades out
    calls.clear()
    fader.picture(decode, new, None, np.zeros(4), None, 1.0)  # after the fade: the new one alone
    assert calls == [(10.0, 0.0)]


def test_a_different_latent_size_fades_from_the_last_old_picture():
    def decode(model, z):
        return torch.full((3, 2, 2), model.value)

    old, new = Model(0.0, latent_dim=8), Model(10.0, latent_dim=4)
    fader = OneDecodeFader()
    fader.picture(decode, old, None, np.zeros(8), None, 1.0)
    # previous_z of the wrong size (no old navigator): the old picture is held, not decoded
    pic = fader.picture(decode, new, old, np.zeros(4), None, 0.25)
    assert torch.allclose(pic, torch.full((3, 2, 2), 2.5))
    pic = fader.picture(decode, new, old, np.zeros(4), None, 0.5)
    assert torch.allclose(pic, torch.full((3, 2, 2), 5.0))
