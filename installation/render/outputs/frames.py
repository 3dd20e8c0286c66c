"""Frame buffers shared by the outputs, and the conversion each output does on its thread.

The render thread's only cost per frame is one memcpy into a `FramePool` buffer, however many
outputs take that frame: the buffer goes to each of them by index and is free again when the
last one releases it. The buffers are the planes of reused PyAV frames, so an output scales
and converts (`Converter`, FFmpeg's swscale, which releases the GIL) without another copy.
"""

from __future__ import annotations

import threading

import numpy as np

# Our pixel format names -> FFmpeg's. bgra/rgba are sent opaque: the show has no alpha.
AV_FORMATS = {
    "bgra": "bgra",
    "bgrx": "bgra",
    "rgba": "rgba",
    "rgbx": "rgba",
    "uyvy": "uyvy422",
    "rgb": "rgb24",
    "rgb24": "rgb24",
    "bgr": "bgr24",
}
_HAS_ALPHA = {"bgra", "rgba"}


def _av():
    try:
        import av
    except ImportError:
        from installation.errors import UserError

        raise UserError(
            "video outputs and off-thread screenshots need PyAV: pip install 'installation[video]'"
        ) from None
    return av


def plane_view(frame, shape: tuple[int, ...]) -> np.ndarray:
    """A numpy view of a PyAV frame's first plane, rows `line_size` apart (no copy)."""
    plane = frame.planes[0]
    itemsize = shape[2] if len(shape) == 3 else 1
    strides = (plane.line_size, itemsize, 1) if len(shape) == 3 else (plane.line_size, 1)
    return np.ndarray(shape, np.uint8, buffer=plane, strides=strides)


class FramePool:
    """A few reused [H, W, 4] frame buffers with reference counts; thread-safe."""

    def __init__(self, width: int, height: int, av_format: str, count: int) -> None:
        av = _av()
        self.width, self.height, self.av_format = width, height, av_format
        self.frames = [av.VideoFrame(width, height, av_format) for _ in range(count)]
        self.views = [plane_view(f, (height, width, 4)) for f in self.frames]
        self._refs = [0] * count
        self._lock = threading.Lock()

    def fill(self, pixels: np.ndarray, consumers: int) -> int | None:
        """Copy `pixels` into a free buffer held by `consumers`; None when all are in use."""
        with self._lock:
            index = next((i for i, r in enumerate(self._refs) if r == 0), None)
            if index is None:
                return None
            self._refs[index] = consumers
        np.copyto(self.views[index], pixels)
        return index

    def release(self, index: int) -> None:
        with self._lock:
            self._refs[index] -= 1

    def in_use(self) -> int:
        with self._lock:
            return sum(1 for r in self._refs if r)


def cover_crop(src_w: int, src_h: int, out_w: int, out_h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the largest centred part of the source with the output's aspect."""
    if src_w * out_h > out_w * src_h:  # source wider: crop the sides
        w = max(1, round(src_h * out_w / out_h))
        return (src_w - w) // 2, 0, w, src_h
    h = max(1, round(src_w * out_h / out_w))
    return 0, (src_h - h) // 2, src_w, h


class Converter:
    """Turns a pool frame into what one output sends: its size, fit and pixel format."""

    def __init__(
        self,
        src_size: tuple[int, int],
        src_format: str,
        out_size: tuple[int, int],
        pixel_format: str,
        fit: str = "cover",
        src_opaque: bool = True,
    ) -> None:
        self.av = _av()
        self.src_size, self.out_size, self.src_format = src_size, out_size, src_format
        self.pixel_format, self.out_format = pixel_format, AV_FORMATS[pixel_format]
        (sw, sh), (ow, oh) = src_size, out_size
        self.crop = (
            cover_crop(sw, sh, ow, oh)
            if fit == "cover" and (sw, sh) != (ow, oh)
            else (0, 0, sw, sh)
        )
        self._cropped = None
        if self.crop != (0, 0, sw, sh):
            self._cropped = self.av.VideoFrame(self.crop[2], self.crop[3], src_format)
        self._reformatter = self.av.video.reformatter.VideoReformatter()
        self.passthrough = (sw, sh) == (ow, oh) and src_format == self.out_format
        self.fix_alpha = pixel_format in _HAS_ALPHA and not src_opaque
        self._private = None  # a passthrough frame whose alpha we must set is copied first
        if self.out_format == "uyvy422":
            self.shape: tuple[int, ...] = (oh, ow * 2)
        else:
            self.shape = (oh, ow, 3 if self.out_format.endswith("24") else 4)

    def __call__(self, frame, view: np.ndarray) -> np.ndarray:
        """The output's pixels, valid until the next call (or until `frame` is released, in
        passthrough)."""
        if self.passthrough:
            if not self.fix_alpha:
                return view
            if self._private is None:
                self._private = np.empty(view.shape, np.uint8)
            np.copyto(self._private, view)
            self._private[..., 3] = 255
            return self._private
        if self._cropped is not None:
            x, y, w, h = self.crop
            np.copyto(plane_view(self._cropped, (h, w, 4)), view[y : y + h, x : x + w])
            frame = self._cropped
        ow, oh = self.out_size
        # Our own reformatter: VideoFrame.reformat caches one on the frame, and a pool frame
        # is converted by several outputs at once (sharing an SwsContext deadlocks).
        # NDI reads UYVY as BT.709 at every size (measured with its own receiver).
        colour = {"dst_colorspace": "ITU709"} if self.out_format == "uyvy422" else {}
        out = self._reformatter.reformat(
            frame, ow, oh, format=self.out_format, interpolation="BILINEAR", threads=1, **colour
        )
        pixels = plane_view(out, self.shape)  # the view keeps `out` alive through its plane
        if self.fix_alpha:
            pixels[..., 3] = 255
        return pixels
