"""Fake library objects for the adapters' shared contract.

These are fakes, not the real libraries, because Syphon exists only on macOS, Spout only on
Windows and a virtual camera needs a v4l2loopback kernel module: none can run on this Linux
CI machine. Each fake has exactly the calls our adapter makes, with the signatures of the
real library's documentation, and records what it was given, so a test can check that a
frame reached "the library" whole, in the right size and byte order. NDI runs for real in
test_ndi.py; its fake here only checks the same contract as the others.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np


class Recorder:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.opened: list[dict] = []
        self.closed = 0
        self.lock = threading.Lock()

    def got(self, frame) -> None:
        with self.lock:
            self.frames.append(np.array(frame, copy=True))


def fake_cyndilib(rec: Recorder, taken: set[str] = frozenset()):
    class VideoSendFrame:
        def set_resolution(self, w, h):
            self.size = (w, h)

        def set_frame_rate(self, fr):
            self.rate = fr

        def set_fourcc(self, fourcc):
            self.fourcc = fourcc

    class Sender:
        def __init__(self, name, ndi_groups="", clock_video=True, clock_audio=True):
            self.name, self.source = name, SimpleNamespace(name=f"FAKEHOST ({name})")

        def set_video_frame(self, vf):
            self.vf = vf

        def set_audio_frame(self, af):
            self.af = af

        def open(self):
            if self.name in taken:  # what cyndilib raises when NDI returns no sender
                raise MemoryError()
            rec.opened.append({"name": self.name, "size": self.vf.size, "fourcc": self.vf.fourcc})

        def write_video_async(self, data):
            assert data.ndim == 1 and data.size == self.vf.size[0] * self.vf.size[1] * (
                2 if self.vf.fourcc == "UYVY" else 4
            )
            rec.got(data)
            return True

        def get_num_connections(self, timeout):
            return 1

        def close(self):
            rec.closed += 1

    four = SimpleNamespace(BGRX="BGRX", RGBX="RGBX", UYVY="UYVY", BGRA="BGRA", RGBA="RGBA")
    return SimpleNamespace(
        FourCC=four,
        VideoSendFrame=VideoSendFrame,
        Sender=Sender,
        AudioSendFrame=object,
        get_ndi_version=lambda: "fake",
    )


def fake_syphon(rec: Recorder):
    class Server:
        def __init__(self, name):
            self.name, self.device, self.has_clients = name, object(), True
            rec.opened.append({"name": name})

        def publish_frame_texture(self, texture):
            rec.got(texture.pixels)

        def stop(self):
            rec.closed += 1

    def create_mtl_texture(device, w, h):
        return SimpleNamespace(size=(w, h), pixels=None)

    def copy_image_to_mtl_texture(image, texture):
        assert image.shape == (texture.size[1], texture.size[0], 4) and image.flags.c_contiguous
        texture.pixels = image.copy()

    utils = SimpleNamespace(
        textures=SimpleNamespace(create_mtl_texture=create_mtl_texture),
        numpy=SimpleNamespace(copy_image_to_mtl_texture=copy_image_to_mtl_texture),
    )
    return SimpleNamespace(SyphonMetalServer=Server, utils=utils)


def fake_spoutgl(rec: Recorder):
    class SpoutSender:
        def setSenderName(self, name):
            rec.opened.append({"name": name})

        def sendImage(self, buffer, w, h, gl_format, invert, host_fbo):
            assert buffer.shape == (h, w, 4) and not invert
            rec.got(buffer)
            return True

        def releaseSender(self):
            rec.closed += 1

    return SimpleNamespace(SpoutSender=SpoutSender)


def fake_pyvirtualcam(rec: Recorder):
    class Camera:
        def __init__(self, width, height, fps, fmt, print_fps=False, device=None, backend=None):
            self.device = device or "/dev/video-fake"
            rec.opened.append({"size": (width, height), "fps": fps, "fmt": fmt})

        def send(self, frame):
            rec.got(frame)

        def close(self):
            rec.closed += 1

    return SimpleNamespace(
        Camera=Camera, PixelFormat=SimpleNamespace(RGB="RGB", BGR="BGR", UYVY="UYVY")
    )


FAKES = {
    "ndi": fake_cyndilib,
    "syphon": fake_syphon,
    "spout": fake_spoutgl,
    "virtualcam": fake_pyvirtualcam,
}
