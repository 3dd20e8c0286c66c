"""`installation dataset prepare`: real files of every awkward kind in, squares out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from installation.training.data import load_folder
from installation.training.prepare import PrepareError, prepare_dataset

av = pytest.importorskip("av", reason="video input needs the optional PyAV extra")
ROOT = Path(__file__).resolve().parents[2]


def _write_video(path: Path, frames: int, size: int = 64) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        out.start_encoding()  # writes the header even when no frame follows
        for i in range(frames):
            arr = np.full((size, size, 3), (i * 20) % 255, np.uint8)
            arr[:, : size // 2, 0] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    # a portrait photo stored landscape with EXIF orientation 6 (rotate 90 degrees clockwise)
    land = np.zeros((40, 80, 3), np.uint8)
    land[:, :40] = (255, 0, 0)  # left half red: after rotation the top half is red
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(land).save(src / "phone.jpg", exif=exif, quality=95)
    # RGBA: a transparent left half over arbitrary green
    rgba = np.zeros((50, 50, 4), np.uint8)
    rgba[..., 1] = 255
    rgba[:, 25:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(src / "sub" / "cutout.png")
    Image.fromarray(np.full((30, 60), 90, np.uint8), "L").save(src / "grey.png")
    (src / "copy.png").write_bytes((src / "grey.png").read_bytes())  # a duplicate
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (src / "notes.txt").write_text("hello")
    _write_video(src / "clip.mp4", frames=9)
    _write_video(src / "empty.mp4", frames=0)
    return src


def test_prepare_names_what_it_used_skipped_and_removed(tmp_path, messy):
    out = tmp_path / "out"
    report = prepare_dataset(messy, out, 32, background="white", every=4)
    skipped = {Path(s["source"]).name: s["why"] for s in report.skipped}
    assert set(skipped) == {"broken.jpg", "notes.txt", "empty.mp4"}
    assert skipped["empty.mp4"] == "the video has no frames"
    assert "unreadable" in skipped["broken.jpg"]
    assert [Path(d["source"]).name for d in report.duplicates] == [
        "grey.png"
    ]  # same pixels as copy.png
    used = [u["output"] for u in report.used]
    assert len(used) == 1 + 1 + 1 + 3  # phone, cutout, one grey, video frames 0, 4, 8
    saved = json.loads((out / "report.json").read_text())
    assert len(saved["skipped"]) == 3 and (out / "contact-sheet.png").exists()
    assert "skipped 3 file(s), removed 1 duplicate(s)" in (out / "report.txt").read_text()
    for name in used:
        with Image.open(out / name) as img:
            assert img.size == (32, 32) and img.mode == "RGB"
    phone = np.asarray(Image.open(out / next(n for n in used if "phone" in n)))
    assert phone[4, 16, 0] > 200 and phone[28, 16, 0] < 60  # upright: red on top
    cutout = np.asarray(Image.open(out / next(n for n in used if "cutout" in n)))
    assert tuple(cutout[16, 2]) == (255, 255, 255)  # transparency became the background, not green
    # the trainer reads the folder and leaves the report and sheet out
    data = load_folder(out, 32, 3, warn=False)
    assert len(data) == len(used) and not data.skipped


def test_pad_letterboxes_and_grey_can_stay_one_channel(tmp_path, messy):
    out = tmp_path / "pad"
    report = prepare_dataset(
        messy, out, 32, fit="pad", grey="keep", background="black", sheet=False
    )
    grey = next(u["output"] for u in report.used if "grey" in u["output"] or "copy" in u["output"])
    with Image.open(out / grey) as img:
        arr = np.asarray(img)
        assert img.mode == "L" and arr[0, 16] == 0 and arr[16, 16] == 90  # bars top and bottom


def test_random_crops_multiply_the_images_reproducibly(tmp_path, messy):
    a = prepare_dataset(messy / "sub", tmp_path / "a", 16, fit="random-crops", crops=5, seed=3)
    b = prepare_dataset(messy / "sub", tmp_path / "b", 16, fit="random-crops", crops=5, seed=3)
    assert len(a.used) + len(a.duplicates) == 5
    assert [u["output"] for u in a.used] == [u["output"] for u in b.used]


def test_nothing_usable_is_an_error_that_says_why(tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "a.txt").write_text("x")
    with pytest.raises(PrepareError, match="no usable images"):
        prepare_dataset(src, tmp_path / "o", 32)
    with pytest.raises(PrepareError, match="does not exist"):
        prepare_dataset(tmp_path / "missing", tmp_path / "o", 32)


def test_the_cli_prepares_a_video_file(tmp_path, messy):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "installation",
            "dataset",
            "prepare",
            str(messy / "clip.mp4"),
            "--out",
            str(tmp_path / "v"),
            "--size",
            "24",
            "--every",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        len(list((tmp_path / "v").glob("*.png"))) == 3 + 1
    )  # frames 0, 3, 6 and the contact sheet
    assert "used 3 image(s)" in proc.stderr
