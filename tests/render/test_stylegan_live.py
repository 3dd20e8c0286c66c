"""Imported StyleGAN models play like any other: headless runs, truncation as psi, style
mixing, noise and the SG3 transform from control events, and crossfades across
architectures and resolutions. Models come from tests/data/stylegan (see its README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest
import yaml

from installation.checkpoints import load_checkpoint
from installation.cli import main
from installation.events import ControlEvent
from installation.live.swap import SwapBox

from ..test_run import _runtime, tick

DATA = Path(__file__).parent.parent / "data" / "stylegan"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    folders = {}
    for name in ("sg2", "sg3t", "sg3r"):
        folders[name] = root / name
        assert (
            main(
                ["import", str(DATA / f"{name}.pkl"), "--out", str(folders[name]), "--no-progress"]
            )
            == 0
        )
    return folders


def _show(show_dict: dict, model: Path, **params: dict) -> dict:
    # Instant parameters, so one event shows in the next frame.
    instant = {
        name: {"smoothing": 0.0}
        for name in ("latent.truncation", "style.mix", "transform.rotate", "noise.strength")
    }
    return {
        **show_dict,
        "model": {"path": str(model), "device": "cpu"},
        "parameters": {**instant, **params},
    }


def _frame(loop) -> np.ndarray:
    tick(loop)
    return loop.renderer.host_arrays[loop._shown_index].copy()


def test_headless_run_plays_an_imported_stylegan3(show_dict, imported, tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text(yaml.safe_dump(_show(show_dict, imported["sg3t"])), encoding="utf-8")
    out = tmp_path / "frames"
    assert main(["run", str(show), "--headless", "--frames", "6", "--out", str(out)]) == 0
    frames = [
        pygame.surfarray.array3d(pygame.image.load(str(p))) for p in sorted(out.glob("*.png"))
    ]
    assert len(frames) == 6 and frames[0].shape[:2] == (160, 90)
    assert not np.array_equal(frames[0], frames[-1])  # the walk moves


def test_truncation_is_psi_toward_w_avg(show_dict, imported) -> None:
    show = _show(show_dict, imported["sg2"])
    runtime = _runtime({**show, "navigator": {**show["navigator"], "truncation": 0.0}})
    try:
        loop = runtime.build_loop()
        first = _frame(loop)
        loop.phase += 0.5  # elsewhere on the walk: psi 0 still gives the average face
        np.testing.assert_array_equal(first, _frame(loop))
        loop.hooks.events.put(ControlEvent("latent.truncation", 1.0, source="test"))
        assert not np.array_equal(first, _frame(loop))
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("model", "target", "value"),
    [
        ("sg2", "style.mix", 1.0),
        ("sg3t", "style.mix", 1.0),
        ("sg3t", "transform.rotate", 90.0),
        ("sg3r", "transform.rotate", 45.0),
        ("sg2", "noise.strength", 0.0),
        ("sg2", "noise.random", 1.0),
    ],
)
def test_style_controls_change_the_picture(
    show_dict, imported, model: str, target: str, value: float
) -> None:
    show = _show(show_dict, imported[model])
    runtime = _runtime(
        {**show, "navigator": {**show["navigator"], "speed": 0.0}}
    )  # the walk holds still
    try:
        loop = runtime.build_loop()
        before = _frame(loop)
        np.testing.assert_array_equal(before, _frame(loop))  # nothing else changes the picture
        loop.hooks.events.put(ControlEvent(target, value, source="test"))
        after = _frame(loop)
        assert loop.error is None
        assert loop.values[target] == value
        assert np.abs(after.astype(int) - before.astype(int)).mean() > 1.0
    finally:
        runtime.close()


def test_crossfades_across_architectures_and_resolutions(
    show_dict, imported, tmp_path: Path
) -> None:
    """DCGAN 32 px (latent 16) -> StyleGAN2 -> StyleGAN3-R, each faded in without an error."""
    runtime = _runtime({**show_dict, "parameters": {"style.mix": {"default": 0.5}}})
    try:
        loop = runtime.build_loop()
        loop.hooks.swap_box = box = SwapBox()
        loop.settings.crossfade_s = 0.1
        tick(loop)
        for name in ("sg2", "sg3r"):
            model = load_checkpoint(imported[name])
            box.offer(model)
            for _ in range(5):
                tick(loop)
                assert loop.error is None, loop.error
            assert loop.renderer.model is model and loop.renderer.previous is None
        assert loop.navigator.latent_dim == 32
    finally:
        runtime.close()


def test_osc_steers_mixing_and_rotation_over_real_udp(show_dict, imported, tmp_path: Path) -> None:
    """The registry's StyleGAN parameters are OSC addresses: a real loopback datagram moves them."""
    import socket

    from installation.app import RunOptions, ShowRuntime
    from installation.config.show import parse_show
    from installation.control.osc.parse import encode_message
    from installation.control.osc.server import OscServer

    from ..waiting import wait_for

    show = _show(show_dict, imported["sg3t"])
    show["osc"] = {"enabled": True, "port": 0, "oscquery": {"port": 0, "zeroconf": False}}
    show["display"] = {**show["display"], "pipeline": "off"}
    runtime = ShowRuntime(parse_show(show), RunOptions(headless=True))
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        server = next(s for s in runtime.services if isinstance(s, OscServer))
        assert server.address is not None, server.error
        loop.step()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(encode_message("/style/mix", [1.0]), server.address)
            sock.sendto(encode_message("/transform/rotate", [90.0]), server.address)
        assert wait_for(lambda: server.receiver.counters["packets"] >= 2)

        def applied() -> bool:
            loop.step()
            return loop.values["style.mix"] == 1.0 and loop.values["transform.rotate"] == 90.0

        assert wait_for(applied, timeout=10)
        assert loop.error is None
    finally:
        runtime.close()
