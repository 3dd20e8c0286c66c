"""The adapter contract, on every platform, with fake library objects (see fakes.py for why
they are fakes): a frame handed to the hub on the render thread reaches the library on the
output's thread, whole, at the configured size, in the configured byte order."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")

from installation.config.show import parse_show  # noqa: E402
from installation.render.outputs import build_outputs  # noqa: E402
from tests.render.outputs.fakes import FAKES, Recorder  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

W, H = 32, 24
RED, BLUE = (220, 30, 10), (20, 40, 200)


def bgra_frame(w: int = W, h: int = H, pad: int = 0) -> np.ndarray:
    """Left half RED, right half BLUE, in the display's BGRA byte order (pad byte `pad`)."""
    frame = np.empty((h, w, 4), np.uint8)
    frame[:, : w // 2, :3] = RED[::-1]
    frame[:, w // 2 :, :3] = BLUE[::-1]
    frame[..., 3] = pad
    return frame


def hub_for(output: dict, lib, native=(W, H), display=(W, H)):
    show = parse_show({"outputs": [output]})
    return build_outputs(
        show.outputs,
        base_dir=show.base_dir,
        display_size=display,
        native_size=native,
        pygame_format="BGRA",
        show_fps=60,
        screenshots=False,
        lib=lib,
    )


def expected(pixel_format: str, rgb: tuple[int, int, int]) -> list[int]:
    r, g, b = rgb
    return {
        "bgra": [b, g, r, 255],
        "bgrx": [b, g, r],
        "rgba": [r, g, b, 255],
        "rgbx": [r, g, b],
        "rgb": [r, g, b],
        "bgr": [b, g, r],
    }[pixel_format]


CASES = [("ndi", f) for f in ("bgra", "bgrx", "rgba", "rgbx")] + [
    ("syphon", "rgba"),
    ("spout", "rgba"),
    ("spout", "bgra"),
    ("virtualcam", "rgb"),
    ("virtualcam", "bgr"),
]


@pytest.mark.parametrize("kind,pixel_format", CASES)
@pytest.mark.parametrize("size", ["display", [64, 48]])
def test_a_frame_reaches_the_library_whole(kind: str, pixel_format: str, size) -> None:
    rec = Recorder()
    hub = hub_for(
        {"kind": kind, "name": "stage", "pixel_format": pixel_format, "size": size},
        FAKES[kind](rec),
    )
    hub.start()
    try:
        assert wait_for(lambda: hub.workers[0].state == "running", timeout=10), (
            "timed out waiting for the output to open"
        )
        hub.native(bgra_frame(pad=255))  # the renderer's frames are opaque
        hub.display(bgra_frame(pad=0))  # a window surface's pad byte may be anything
        assert wait_for(lambda: len(rec.frames) >= 1, timeout=10), (
            "timed out waiting for a frame at the library"
        )
    finally:
        hub.stop()
    assert rec.closed == 1 and len(rec.opened) == 1
    ow, oh = (W, H) if size == "display" else size
    got = rec.frames[0].reshape(oh, ow, -1)
    left, right = got[oh // 2, ow // 4], got[oh // 2, 3 * ow // 4]
    want = expected(pixel_format, RED), expected(pixel_format, BLUE)
    n = len(want[0])
    assert np.abs(left[:n].astype(int) - want[0]).max() <= 2, (left, want[0])
    assert np.abs(right[:n].astype(int) - want[1]).max() <= 2, (right, want[1])
    status = hub.status()[f"{kind}:stage"]
    assert status["sent"] == 1 and status["dropped"] == 0 and status["state"] == "stopped"


def test_uyvy_is_packed_422_with_broadcast_range() -> None:
    rec = Recorder()
    hub = hub_for({"kind": "ndi", "name": "uyvy", "pixel_format": "uyvy"}, FAKES["ndi"](rec))
    hub.start()
    try:
        grey = np.full((H, W, 4), 128, np.uint8)
        assert wait_for(lambda: hub.workers[0].state == "running", timeout=10), (
            "timed out waiting for open"
        )
        hub.display(grey)
        assert wait_for(lambda: rec.frames, timeout=10), "timed out waiting for a frame"
    finally:
        hub.stop()
    assert rec.opened[0]["fourcc"] == "UYVY"
    uyvy = rec.frames[0].reshape(H, W * 2)
    assert abs(int(uyvy[5, 0]) - 128) <= 1 and abs(int(uyvy[5, 2]) - 128) <= 1  # U, V: no colour
    assert abs(int(uyvy[5, 1]) - (16 + 128 * 219 // 255)) <= 2  # Y in 16..235


def test_ndi_rename_on_a_clash_is_what_the_status_says() -> None:
    rec = Recorder()
    hub = hub_for({"kind": "ndi", "name": "stage"}, FAKES["ndi"](rec, taken={"stage", "stage (2)"}))
    hub.start()
    try:
        assert wait_for(lambda: hub.workers[0].state == "running", timeout=10), (
            "timed out waiting for open"
        )
        assert hub.status()["ndi:stage"]["name"] == "FAKEHOST (stage (3))"
    finally:
        hub.stop()


@pytest.mark.parametrize(
    "cap,show_fps,taken", [(10, 60, 10), (30, 60, 30), (60, 60, 60), (30, 29.5, 30)]
)
def test_the_fps_cap_takes_frames_on_a_steady_grid(cap: float, show_fps: float, taken: int) -> None:
    hub = hub_for({"kind": "syphon", "name": "capped", "fps": cap}, FAKES["syphon"](Recorder()))
    worker = hub.workers[0]
    rng = np.random.default_rng(0)
    times = [
        i / show_fps + rng.uniform(-0.002, 0.002) for i in range(int(show_fps))
    ]  # 1 s, jittered
    assert abs(sum(worker.wants(t) for t in times) - min(taken, len(times))) <= 1
