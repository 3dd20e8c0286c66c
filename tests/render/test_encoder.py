"""The video encoder against real files: frames are decoded back with PyAV and compared.

Full disk is tested two real ways: a 1 MiB tmpfs where we may mount one (root), and
everywhere a path that is a symlink to /dev/full, which fails every write with ENOSPC exactly
as a full disk does. A read-only folder is a read-only tmpfs mount as root (root ignores
chmod), a chmod 0555 folder otherwise. This file needs nothing from the rest of the suite.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from installation.render.encoder import (  # noqa: E402
    CodecUnavailable,
    DiskFull,
    EncoderError,
    FolderNotWritable,
    VideoEncoder,
    available_codecs,
    write_png,
)

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (40, 80, 160)]


def solid(w: int, h: int, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (h, w, 3)).copy()


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@contextlib.contextmanager
def mounted_tmpfs(where: Path, *opts: str):
    """A real tmpfs at `where` (root only); skips the test with the reason otherwise."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("h264", ".mkv"), ("prores", ".mov")])
def test_video_roundtrip_keeps_count_size_and_colour(
    tmp_path: Path, codec: str, suffix: str
) -> None:
    if codec not in available_codecs():
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path = tmp_path / f"take{suffix}"
    with VideoEncoder(path, size=(64, 48), fps=30, codec=codec) as enc:
        for rgb in COLOURS:
            enc.write(solid(64, 48, rgb))
        assert enc.frames_written == len(COLOURS)
    frames = decode(path)
    assert len(frames) == len(COLOURS)
    for frame, rgb in zip(frames, COLOURS, strict=True):
        assert frame.shape == (48, 64, 3)
        # Lossy YUV: each channel within a few levels of what was written.
        assert np.abs(frame.reshape(-1, 3).mean(0) - rgb).max() < 6, (frame[0, 0], rgb)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 30
        assert stream.codec_context.name in {"h264", "prores"}


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("h264", ".mkv"), ("prores", ".mov")])
def test_video_is_tagged_bt709_limited_range_and_converted_so(
    tmp_path: Path, codec: str, suffix: str
) -> None:
    if codec not in available_codecs():
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path = tmp_path / f"tagged{suffix}"
    red = (230, 20, 20)  # a saturated colour: BT.601 and BT.709 put it at different Y/Cb/Cr
    with VideoEncoder(path, size=(64, 48), fps=30, codec=codec) as enc:
        enc.write(solid(64, 48, red))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        tags = (ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range)
        assert tags == (1, 1, 1, 1), tags  # BT.709 primaries, transfer, matrix; MPEG range
        frame = next(container.decode(video=0))
    # The stored YUV is BT.709 limited range: Y = 16 + 219 * (.2126 R + .7152 G + .0722 B)
    r, g, b = (c / 255 for c in red)
    y_709 = 16 + 219 * (0.2126 * r + 0.7152 * g + 0.0722 * b)
    y_601 = 16 + 219 * (0.299 * r + 0.587 * g + 0.114 * b)
    plane = frame.planes[0]  # the stored Y plane itself (8-bit, or 10-bit in 16-bit words)
    dtype = np.uint8 if codec == "h264" else np.dtype("<u2")
    rows = np.frombuffer(bytes(plane), dtype).reshape(frame.height, -1)[:, : frame.width]
    luma = rows.astype(float).mean() / (1 if codec == "h264" else 4)
    assert abs(luma - y_709) < 3 < abs(luma - y_601), (luma, y_709, y_601)


def test_fractional_fps_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mp4"
    with VideoEncoder(path, size=(32, 32), fps=29.97) as enc:
        for _ in range(3):
            enc.write(solid(32, 32, (9, 9, 9)))
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)


def test_png_sequence_is_lossless(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(3)]
    with VideoEncoder(tmp_path / "seq", size=(30, 20), fps=24, codec="png") as enc:
        for frame in frames:
            enc.write(frame)
    files = sorted((tmp_path / "seq").glob("*.png"))
    assert [f.name for f in files] == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    for file, frame in zip(files, frames, strict=True):
        assert np.array_equal(decode(file)[0], frame)


def test_write_png_is_lossless_and_atomic(tmp_path: Path) -> None:
    frame = np.random.default_rng(1).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    out = write_png(tmp_path / "shots" / "a.png", frame)
    assert np.array_equal(decode(out)[0], frame)
    assert [p.name for p in out.parent.iterdir()] == ["a.png"]  # no temp file left behind


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((48, 64, 4), np.uint8),
        np.zeros((48, 64, 3), np.float32),
        np.zeros((64, 48, 3), np.uint8),
    ],
)
def test_a_wrong_frame_is_refused_with_its_shape(tmp_path: Path, bad: np.ndarray) -> None:
    with VideoEncoder(tmp_path / "a.mp4", size=(64, 48), fps=30) as enc:
        with pytest.raises(EncoderError, match=r"\(48, 64, 3\)"):
            enc.write(bad)
        enc.write(solid(64, 48, (1, 2, 3)))  # the encoder still works after a refused frame
    assert len(decode(tmp_path / "a.mp4")) == 1


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"codec": "divx"}, "unknown codec 'divx'"),
        ({"size": (63, 48)}, "even width and height.*64x48"),
        ({"fps": 0}, "fps must be above 0"),
        ({"codec": "prores"}, "prores goes in a .mov/.mkv file"),
        ({"options": {"preset": "warp9"}}, "cannot encode h264"),
        ({"pixel_format": "not-a-format"}, "cannot encode h264"),
    ],
)
def test_bad_settings_are_refused_at_open_and_leave_no_file(
    tmp_path: Path, kwargs: dict, message: str
) -> None:
    if kwargs.get("codec") == "prores" and "prores" not in available_codecs():
        pytest.skip("this FFmpeg build has no prores encoder")
    args = {"size": (64, 48), "fps": 30, **kwargs}
    with pytest.raises(EncoderError, match=message):
        VideoEncoder(tmp_path / "a.mp4", **args)
    assert not (tmp_path / "a.mp4").exists()


def test_close_twice_and_write_after_close(tmp_path: Path) -> None:
    enc = VideoEncoder(tmp_path / "a.mp4", size=(32, 32), fps=30)
    enc.close()
    enc.close()
    with pytest.raises(EncoderError, match="closed"):
        enc.write(solid(32, 32, (0, 0, 0)))


def test_read_only_folder_is_refused_at_open(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        ctx = mounted_tmpfs(tmp_path / "ro", "ro", "size=1m")
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        ctx = contextlib.nullcontext(tmp_path / "ro")
    with ctx as folder:
        with pytest.raises(FolderNotWritable, match="choose a writable folder"):
            VideoEncoder(folder / "a.mp4", size=(32, 32), fps=30)
        with pytest.raises(FolderNotWritable):
            VideoEncoder(folder / "seq", size=(32, 32), fps=30, codec="png")
        with pytest.raises(FolderNotWritable):
            write_png(folder / "shot.png", solid(8, 8, (0, 0, 0)))


def _fill(enc: VideoEncoder, w: int, h: int, limit: int = 2000) -> None:
    """Write noise (incompressible) until the encoder reports the disk full."""
    rng = np.random.default_rng(2)
    for _ in range(limit):
        enc.write(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    enc.close()


def test_full_tmpfs_stops_the_video_with_disk_full(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "small", "size=1m") as folder:
        enc = VideoEncoder(folder / "a.mp4", size=(128, 96), fps=30, options={"crf": "0"})
        with pytest.raises(DiskFull, match="disk is full"):
            _fill(enc, 128, 96)
        assert 0 < enc.frames_written < 2000
        with pytest.raises(EncoderError, match="closed"):
            enc.write(solid(128, 96, (0, 0, 0)))
        enc.close()  # closing after the failure raises nothing more


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_full_disk_is_an_error_on_the_frame_that_filled_it(tmp_path: Path, suffix: str) -> None:
    """Smooth frames (the show's kind): Matroska held a cluster (seconds) in memory, so the
    disk filled ~100 frames before the error surfaced, or only at close for a short take;
    now each packet is written as it is muxed (flush_packets)."""
    x, y = np.arange(320)[None, :, None], np.arange(180)[:, None, None]
    with mounted_tmpfs(tmp_path / "small", "size=512k") as folder:
        path = folder / f"a{suffix}"
        enc = VideoEncoder(path, size=(320, 180), fps=30, options={"preset": "ultrafast"})
        full_at = None  # the frame after which the file system had no block left
        with pytest.raises(DiskFull, match="disk is full"):
            for i in range(3000):  # write() raises, not close()
                enc.write(((x * 3 + y * 2 + i * 5 + np.array([0, 60, 120])) % 256).astype(np.uint8))
                if full_at is None and os.statvfs(folder).f_bavail == 0:
                    full_at = enc.frames_written
        written = enc.frames_written
        assert 0 < written < 3000
        # None: the write that found no room raised at once; else within two frames of it
        assert full_at is None or written - full_at <= 2, (full_at, written)
        if suffix == ".mkv":  # Matroska stays playable up to where the disk filled
            assert len(decode(path)) > written // 2


def test_full_tmpfs_stops_a_png_sequence_and_leaves_no_partial_file(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "small", "size=1m") as folder:
        enc = VideoEncoder(folder / "seq", size=(128, 96), fps=30, codec="png")
        with pytest.raises(DiskFull):
            _fill(enc, 128, 96)
        files = sorted((folder / "seq").glob("*.png"))
        assert len(files) == enc.frames_written > 0
        assert decode(files[-1])[0].shape == (96, 128, 3)  # the last file kept is whole


def test_dev_full_reports_disk_full_for_video_and_png(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this platform")
    (tmp_path / "a.mp4").symlink_to("/dev/full")
    with pytest.raises(DiskFull, match="a.mp4"):  # the header write at open already fails
        _fill(VideoEncoder(tmp_path / "a.mp4", size=(64, 48), fps=30), 64, 48)
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "frame_000000.png").symlink_to("/dev/full")
    enc = VideoEncoder(tmp_path / "seq", size=(64, 48), fps=30, codec="png")
    with pytest.raises(DiskFull):
        enc.write(solid(64, 48, (5, 5, 5)))


def test_available_codecs_names_ours() -> None:
    codecs = available_codecs()
    assert "h264" in codecs and "png" in codecs
    assert set(codecs) <= {"h264", "prores", "png"}


def test_codec_unavailable_is_an_encoder_error() -> None:
    assert issubclass(CodecUnavailable, EncoderError) and issubclass(DiskFull, EncoderError)
