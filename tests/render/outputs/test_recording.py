"""Live recording and screenshots through the one encoder, on their own threads, in a real
show (pygame dummy display, the tiny model): files on disk are decoded back and checked."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pygame
import pytest

av = pytest.importorskip("av")

from installation.app import RunOptions, ShowRuntime, run_show  # noqa: E402
from installation.config.show import ShowError, parse_show  # noqa: E402
from installation.errors import UserError  # noqa: E402
from installation.stats import read_stats  # noqa: E402
from tests.render.test_encoder import mounted_tmpfs as tmpfs  # noqa: E402
from tests.waiting import wait_for  # noqa: E402


def frames_in(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_record_video_writes_the_shown_picture_at_the_show_size(
    show_dict: dict, tmp_path: Path
) -> None:
    show_dict["display"].update(size=[160, 90], fps=30)
    out = tmp_path / "takes" / "take.mp4"
    stats = tmp_path / "stats.jsonl"
    shown = run_show(
        parse_show(show_dict),
        RunOptions(
            headless=True, frames=20, fixed_step=True, fps=30, record_video=out, stats=stats
        ),
    )
    frames = frames_in(out)
    assert shown == 20 and frames and frames[0].shape == (90, 160, 3)
    assert frames[-1].std() > 1  # a picture, not black
    _, events = read_stats(stats)
    (final,) = [e for e in events if e["event"] == "outputs_final"]
    assert final["outputs"]["file:take.mp4"]["sent"] >= 1


def test_a_second_take_never_overwrites_the_first(show_dict: dict, tmp_path: Path) -> None:
    show_dict["outputs"] = [{"kind": "file", "path": str(tmp_path / "take.mp4"), "fps": 30}]
    for _ in range(2):
        run_show(
            parse_show(show_dict), RunOptions(headless=True, frames=5, fixed_step=True, fps=30)
        )
    assert sorted(p.name for p in tmp_path.glob("take*.mp4")) == ["take-2.mp4", "take.mp4"]


def test_a_png_sequence_output_is_lossless(show_dict: dict, tmp_path: Path) -> None:
    show_dict["display"].update(size=[64, 64])
    show_dict["outputs"] = [
        {"kind": "file", "path": str(tmp_path / "seq"), "codec": "png", "size": "native"}
    ]
    run_show(parse_show(show_dict), RunOptions(headless=True, frames=6, fixed_step=True, fps=30))
    files = sorted((tmp_path / "seq").glob("frame_*.png"))
    assert files and frames_in(files[0])[0].shape == (32, 32, 3)  # the tiny model's own 32 px


def test_a_read_only_folder_is_refused_before_the_show_starts(
    show_dict: dict, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "ro", "ro", "size=1m") as folder:
        show_dict["outputs"] = [{"kind": "file", "path": str(folder / "take.mp4")}]
        with pytest.raises(
            UserError, match=r"outputs: file:take.mp4: cannot write to .*ro.*Read-only"
        ):
            run_show(parse_show(show_dict), RunOptions(headless=True, frames=3))


@pytest.mark.parametrize("take,size", [("take", "256k"), ("take.mkv", "48k")])
def test_a_full_disk_stops_the_recording_and_the_show_goes_on(
    show_dict: dict, tmp_path: Path, caplog, take: str, size: str
) -> None:
    show_dict["display"].update(size=[320, 180], fps=30)
    with tmpfs(tmp_path / "small", f"size={size}") as folder:
        # A real full file system (a tmpfs): a PNG sequence fills 256 KiB in a few frames;
        # H.264 in Matroska, of the show's smooth pictures, 48 KiB in a few dozen.
        codec = "png" if take == "take" else "h264"
        show_dict["outputs"] = [{"kind": "file", "path": str(folder / take), "codec": codec}]
        runtime = ShowRuntime(
            parse_show(show_dict), RunOptions(headless=True, fixed_step=True, fps=30)
        )
        try:
            loop = runtime.build_loop()
            runtime.start_services()
            worker = runtime.hooks.outputs.workers[0]
            deadline = time.monotonic() + 60
            while worker.state != "stopped" and time.monotonic() < deadline:
                loop.step()
            assert worker.state == "stopped" and "disk is full" in worker.message
            assert worker.status()["failures"] == 1  # counted, and on /status and the HUD
            before = loop.frame
            for _ in range(10):
                loop.step()  # the show goes on
            assert loop.frame == before + 10 and loop.error is None
            assert "dropped" in " ".join(loop.hooks.outputs.hud_lines())
        finally:
            runtime.close()
    assert any(
        "stopped" in r.getMessage() and "disk is full" in r.getMessage() for r in caplog.records
    )


def test_screenshots_are_written_by_another_process_without_the_hud(
    show_dict: dict, tmp_path: Path
) -> None:
    show_dict["display"].update(size=[800, 450], screenshots=str(tmp_path / "shots"), hud=True)
    runtime = ShowRuntime(parse_show(show_dict), RunOptions(headless=True, fixed_step=True, fps=30))
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        writer = runtime.hooks.outputs.screenshots
        # started with the show, on a helper thread (until it runs, the loop saves shots)
        assert wait_for(lambda: writer.state == "running", timeout=30), writer.status()
        loop.step()
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_s))
        loop.step()
        window = pygame.surfarray.array3d(runtime.display.window).transpose(1, 0, 2)

        def saved() -> bool:
            writer.poll()
            return bool(writer.saved)

        assert wait_for(saved, timeout=30), "timed out waiting for the screenshot file"
        ((path, pid),) = writer.saved
        assert pid != os.getpid()  # written by the writer process, not by the show's
        assert writer.failed == writer.skipped == 0
    finally:
        runtime.close()
    assert writer.state == "idle" and not writer.saved[1:]  # stopped with the show
    (shot,) = (tmp_path / "shots").glob("*.png")
    picture = frames_in(shot)[0]
    assert picture.shape == (450, 800, 3)
    # The HUD covers the window's top-left corner; the screenshot has the picture there, and
    # elsewhere the same pixels as the window.
    assert not np.array_equal(picture[14:30, 14:60], window[14:30, 14:60])
    assert np.array_equal(picture[300:, 600:], window[300:, 600:])


@pytest.mark.parametrize(
    "outputs,message",
    [
        (
            [{"kind": "hdmi"}],
            "outputs.0.kind: unknown output kind 'hdmi'; choose one of ndi, syphon, spout, virtualcam, file",
        ),
        ([{"kind": "ndi", "bitrate": 5}], "outputs.0.bitrate: unknown key"),
        (
            [{"kind": "ndi", "groupz": "a"}],
            "outputs.0.groupz: unknown key (did you mean 'groups'?)",
        ),
        (
            [{"kind": "syphon", "pixel_format": "uyvy"}],
            "outputs.0.pixel_format: Input should be 'rgba'",
        ),
        ([{"kind": "file"}], "outputs.0.path: Field required"),
        ([{"kind": "ndi", "queue": 4}], "outputs.0.queue: Input should be less than or equal to 3"),
        ([{"name": "x"}], "outputs.0.kind: an output needs a kind"),
        ([{"kind": "ndi"}, {"kind": "ndi"}], "a second ndi output named 'installation'"),
    ],
)
def test_bad_outputs_are_refused_with_the_key_path(outputs: list, message: str) -> None:
    with pytest.raises(ShowError) as err:
        parse_show({"outputs": outputs})
    assert message in str(err.value)


def test_check_says_which_outputs_can_run_here_and_why_not(show_file: Path, capsys) -> None:
    import json
    import sys

    from installation.cli import main

    assert main(["check", str(show_file)]) == 0
    support = json.loads(capsys.readouterr().out)["output_support"]
    assert set(support) == {"ndi", "syphon", "spout", "virtualcam", "file"}
    assert support["file"] == "available"
    if sys.platform.startswith("linux"):
        assert "only on macOS" in support["syphon"] and "only on Windows" in support["spout"]


@pytest.mark.parametrize(
    "output,message",
    [
        ({"size": [161, 90]}, "even width and height"),
        ({"options": {"preset": "warp9"}}, "cannot encode h264"),
    ],
)
def test_a_take_the_encoder_refuses_is_refused_before_the_show(
    show_dict: dict, tmp_path: Path, output: dict, message: str
) -> None:
    show_dict["outputs"] = [{"kind": "file", "path": str(tmp_path / "take.mp4"), **output}]
    with pytest.raises(UserError, match=message):
        run_show(parse_show(show_dict), RunOptions(headless=True, frames=3))
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*")) == []
