"""display.upscale: a learned upscaler between generator and display, its cost, its refusals."""

from __future__ import annotations

from pathlib import Path

import pygame
import pytest
import torch
import yaml

from installation.checkpoints import save_checkpoint
from installation.cli import main
from installation.networks.sr import SRConfig, SRUpscaler
from installation.stats import read_stats


def _sr(folder: Path, scale: int = 2, channels: int = 3) -> Path:
    torch.manual_seed(0)
    module = SRUpscaler(SRConfig(scale=scale, channels=channels, width=8))
    with torch.no_grad():  # not the bilinear start: the frames must show the net ran
        module.body[-2].weight.normal_(0, 0.05)
    save_checkpoint(
        folder, module.eval(), name=folder.name, architecture="sr", config=module.cfg.to_dict()
    )
    return folder


def _show(tmp_path: Path, show_dict: dict, sr: Path, size: list[int]) -> Path:
    show = {
        **show_dict,
        "display": {**show_dict["display"], "size": size, "upscale": {"model": str(sr)}},
    }
    path = tmp_path / "sr-show.yaml"
    path.write_text(yaml.safe_dump(show), encoding="utf-8")
    return path


def test_frames_go_through_the_upscaler_and_its_cost_is_in_the_stats(tmp_path, show_dict):
    # The tiny model makes 32 px; x2 gives 64 px, which the 160x90 window still needs.
    show = _show(tmp_path, show_dict, _sr(tmp_path / "x2"), [160, 90])
    stats, out = tmp_path / "stats.jsonl", tmp_path / "frames"
    assert (
        main(
            [
                "run",
                str(show),
                "--headless",
                "--frames",
                "6",
                "--stats",
                str(stats),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    frames, _ = read_stats(stats)
    assert len(frames) == 6 and all(f["sr_ms"] > 0 for f in frames)
    # sr_ms is the latest upscale (pipelined workers finish frames out of step with gen_ms)
    assert all(0 < f["sr_ms"] < 1000 for f in frames)
    assert pygame.image.load(str(sorted(out.glob("*.png"))[-1])).get_size() == (160, 90)
    assert main(["check", str(show)]) == 0


def test_the_renderer_buffers_hold_the_upscaled_frame(tmp_path, show_dict):
    from installation.app import RunOptions, ShowRuntime
    from installation.config.show import load_show

    runtime = ShowRuntime(
        load_show(_show(tmp_path, show_dict, _sr(tmp_path / "x2"), [160, 90])),
        RunOptions(headless=True, frames=1),
    )
    try:
        renderer = runtime.build_loop().renderer
        assert (renderer.height, renderer.width) == (64, 64)
        assert renderer.upscaler is not None and renderer.upscaler.scale == 2
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "make,size,why",
    [
        (
            lambda p: _sr(p, scale=4),
            [100, 60],
            "x4 turns the model's 32 px into 128 px, more than the 100x60 window needs",
        ),
        (lambda p: _sr(p, channels=1), [160, 90], "upscales 1-channel images, the model makes 3"),
    ],
)
def test_an_upscaler_that_does_not_fit_is_refused_with_the_reason(
    tmp_path, show_dict, capsys, make, size, why
):
    show = _show(tmp_path, show_dict, make(tmp_path / "sr"), size)
    assert main(["check", str(show)]) == 2
    assert why in capsys.readouterr().err
    assert main(["run", str(show), "--headless", "--frames", "1"]) != 0
    assert why in capsys.readouterr().err


def test_a_generator_named_as_upscaler_is_refused(tmp_path, show_dict, tiny_model, capsys):
    show = _show(tmp_path, show_dict, tiny_model, [160, 90])
    assert main(["check", str(show)]) == 2
    assert "not an upscaler" in capsys.readouterr().err
