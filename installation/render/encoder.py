"""The one video and image writer: live recording, offline renders and screenshots (PyAV).

    enc = VideoEncoder("take.mp4", size=(1920, 1080), fps=60, codec="h264")
    enc.write(frame)      # HxWx3 uint8 RGB, shape (height, width, 3)
    enc.close()           # flushes; also a context manager

Codecs: "h264" (libx264, yuv420p, .mp4/.mov/.mkv), "prores" (prores_ks, yuv422p10le,
.mov/.mkv) where this FFmpeg build has it, and "png" (a PNG sequence: `path` is a folder,
frames are frame_000000.png, ...). `write_png` writes one PNG (a screenshot) with the same
codec. H.264 and ProRes are converted with the BT.709 matrix to limited range and tagged so
(primaries, transfer, matrix, range), as players and NLEs expect of HD video. An encoder is
not thread-safe: one thread owns it (the recording output runs it on
its own thread, so the render loop never waits for an encode).

Errors say what the operator can fix: `FolderNotWritable` at open (read-only or missing
permission, checked by really creating a file), `DiskFull` on the write that found the disk
full (packets are written as they are muxed; the encoder is closed; a Matroska file plays up
to there, an MP4/MOV has no index written and does not play),
`CodecUnavailable` and plain `EncoderError` for a bad size, frame or option. This module
imports nothing from the rest of the package but errors.py, so it can be copied whole.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from installation.errors import UserError

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}
_BT709, _LIMITED = 1, 1  # FFmpeg's AVCOL_PRI/TRC/SPC_BT709 and AVCOL_RANGE_MPEG


class EncoderError(UserError):
    """A recording or render cannot go on; the message says why and what to do."""


class FolderNotWritable(EncoderError):
    """The output folder is read-only or not ours; refused before the first frame."""


class DiskFull(EncoderError):
    """The disk filled while writing; the encoder has stopped and closed its file."""


class CodecUnavailable(EncoderError):
    """This PyAV/FFmpeg build lacks the codec (ProRes is missing from some builds)."""


@dataclass(frozen=True)
class CodecSpec:
    name: str  # our name
    ffmpeg: str  # FFmpeg encoder
    pixel_format: str  # default pixel format of the stream
    containers: tuple[str, ...]  # allowed path suffixes; () = a folder of images
    options: tuple[tuple[str, str], ...] = ()  # default encoder options


CODECS: dict[str, CodecSpec] = {
    "h264": CodecSpec(
        "h264",
        "libx264",
        "yuv420p",
        (".mp4", ".mov", ".mkv"),
        (("preset", "veryfast"), ("crf", "18")),
    ),
    "prores": CodecSpec(
        "prores", "prores_ks", "yuv422p10le", (".mov", ".mkv"), (("profile", "3"),)
    ),
    "png": CodecSpec("png", "png", "rgb24", ()),
}


def _av():
    try:
        import av
    except ImportError as exc:  # the `video` extra
        raise CodecUnavailable(
            "video encoding needs PyAV: pip install 'installation[video]'"
        ) from exc
    return av


def available_codecs() -> tuple[str, ...]:
    """Our codec names that this machine's PyAV/FFmpeg build can encode."""
    try:
        av = _av()
    except CodecUnavailable:
        return ()
    return tuple(name for name, spec in CODECS.items() if spec.ffmpeg in av.codecs_available)


def _why(exc: OSError, path: Path) -> EncoderError:
    """The operator's version of an OSError from opening or writing `path`."""
    if exc.errno in _DISK_FULL:
        return DiskFull(
            f"the disk is full writing {path}; the recording stopped there "
            "(free space or record elsewhere)"
        )
    if exc.errno in _NOT_WRITABLE:
        return FolderNotWritable(
            f"cannot write to {path.parent}: {os.strerror(exc.errno)} (choose a writable folder)"
        )
    return EncoderError(f"writing {path} failed: {exc}")


def ensure_writable(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be made in it (os.access lies to root)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise _why(exc, folder / "x") from None


def frame_rate(fps: float) -> Fraction:
    """fps as an exact rate: 29.97 is 30000/1001 (NTSC), not 2997/100, so players agree."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc) > 0.005 and abs(fps - ntsc / 1.001) < 0.005:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


def _check_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if (
        not isinstance(frame, np.ndarray)
        or frame.dtype != np.uint8
        or frame.shape != (height, width, 3)
    ):
        got = (
            f"{frame.dtype} {frame.shape}"
            if isinstance(frame, np.ndarray)
            else type(frame).__name__
        )
        raise EncoderError(
            f"a frame must be uint8 of shape ({height}, {width}, 3) (RGB), got {got}"
        )
    return np.ascontiguousarray(frame)


class VideoEncoder:
    """Writes RGB frames to a video file or a PNG sequence; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        size: tuple[int, int],
        fps: float,
        codec: str = "h264",
        *,
        pixel_format: str | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None:
        if codec not in CODECS:
            raise EncoderError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
        self.spec = CODECS[codec]
        self.path = Path(path)
        self.width, self.height = (int(size[0]), int(size[1]))
        if self.width < 1 or self.height < 1:
            raise EncoderError(f"a video size must be positive, got {size}")
        if not fps > 0:
            raise EncoderError(f"fps must be above 0, got {fps}")
        self.fps = frame_rate(fps)
        self.codec = codec
        self.pixel_format = pixel_format or self.spec.pixel_format
        self.options = {
            **dict(self.spec.options),
            **{str(k): str(v) for k, v in (options or {}).items()},
        }
        self.frames_written = 0
        self._closed = False
        self._container = self._stream = None
        self._rgb = self._rgb_view = None  # a reused RGB frame (see _picture)
        av = _av()
        if self.spec.ffmpeg not in av.codecs_available:
            raise CodecUnavailable(
                f"this FFmpeg build has no {self.spec.ffmpeg} encoder for {codec}; "
                f"available here: {', '.join(available_codecs()) or 'none'}"
            )
        if self.spec.containers and self.path.suffix.lower() not in self.spec.containers:
            raise EncoderError(
                f"{codec} goes in a {'/'.join(self.spec.containers)} file, not {self.path.name!r}"
            )
        if self.pixel_format.startswith(("yuv420", "nv12")) and (self.width % 2 or self.height % 2):
            raise EncoderError(
                f"{codec} in {self.pixel_format} needs an even width and height, got "
                f"{self.width}x{self.height} (use {self.width + self.width % 2}x"
                f"{self.height + self.height % 2})"
            )
        if self.pixel_format.startswith("yuv422") and self.width % 2:
            raise EncoderError(
                f"{codec} in {self.pixel_format} needs an even width, got {self.width}"
            )
        # YUV streams are BT.709, limited range (HD video's convention), tagged and converted so.
        self._yuv = self.pixel_format.startswith(("yuv", "nv12"))
        self._reformatter = av.video.reformatter.VideoReformatter()
        if self.spec.containers:
            ensure_writable(self.path.parent)
            self._open_container(av)
        else:
            ensure_writable(self.path)
            self._png = png_context(self.width, self.height, options)

    def _open_container(self, av) -> None:
        try:
            # flush_packets: each packet is written as it is muxed, so a full disk is an error
            # on the frame that hit it (Matroska otherwise holds a cluster, seconds, first).
            self._container = av.open(str(self.path), mode="w", options={"flush_packets": "1"})
            stream = self._container.add_stream(self.spec.ffmpeg, rate=self.fps)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, self.pixel_format
            stream.codec_context.time_base = 1 / self.fps
            if self._yuv:  # players and NLEs read these; untagged HD is guessed, often wrong
                ctx = stream.codec_context
                ctx.color_primaries, ctx.color_trc, ctx.colorspace = _BT709, _BT709, _BT709
                ctx.color_range = _LIMITED
            stream.options = self.options
            self._stream = stream
            self._container.start_encoding()  # a bad option fails here, not at frame one
        except OSError as exc:
            self._abandon(remove=True)
            raise _why(exc, self.path) from None
        except (ValueError, av.FFmpegError) as exc:
            self._abandon(remove=True)
            raise EncoderError(
                f"cannot encode {self.codec} as {self.pixel_format} with {self.options}: {exc}"
            ) from None

    def write(self, frame: np.ndarray) -> None:
        """Encode one frame, shape (height, width, 3) uint8 RGB. Raises DiskFull and closes."""
        if self._closed:
            raise EncoderError(f"the encoder for {self.path} is closed")
        frame = _check_frame(frame, self.width, self.height)
        if not self.spec.containers:
            target = self.path / f"frame_{self.frames_written:06d}.png"
            try:
                target.write_bytes(b"".join(bytes(p) for p in _encode_png(self._png, frame)))
            except OSError as exc:
                target.unlink(missing_ok=True)
                self._closed = True
                raise _why(exc, target) from None
            self.frames_written += 1
            return
        av = _av()
        picture = self._picture(av, frame)
        if self._yuv:  # converted here, so the matrix is the one the stream is tagged with
            picture = self._reformatter.reformat(
                picture,
                format=self.pixel_format,
                dst_colorspace="ITU709",
                dst_color_range="MPEG",
                dst_color_trc=_BT709,
                dst_color_primaries=_BT709,
            )
        picture.pts = self.frames_written
        try:
            for packet in self._stream.encode(picture):
                self._container.mux(packet)
        except OSError as exc:
            self._abandon()
            raise _why(exc, self.path) from None
        self.frames_written += 1

    def _picture(self, av, frame: np.ndarray):
        """`frame` as a PyAV frame. from_ndarray costs ~15 ms at 1080p holding the GIL (a
        stall for the render thread); a copy into one reused frame costs under 1 ms. Reuse
        is safe when the stream's format differs: write() converts into a new frame before
        the encoder keeps any reference."""
        if self.pixel_format == "rgb24":
            return av.VideoFrame.from_ndarray(frame, format="rgb24")
        if self._rgb is None:
            self._rgb = av.VideoFrame(self.width, self.height, "rgb24")
            plane = self._rgb.planes[0]
            self._rgb_view = np.ndarray(
                (self.height, self.width, 3),
                np.uint8,
                buffer=plane,
                strides=(plane.line_size, 3, 1),
            )
        np.copyto(self._rgb_view, frame)
        return self._rgb

    def close(self) -> None:
        """Flush and close; safe to call twice. Raises DiskFull if the flush found no room."""
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            return
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except OSError as exc:
            self._abandon()
            raise _why(exc, self.path) from None
        self._container = None

    def _abandon(self, remove: bool = False) -> None:
        """Close after a failure without raising again (the first error is the one to show)."""
        self._closed = True
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - already failing; the caller raises the cause
                pass
        if remove:  # refused at open: leave no empty file behind
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            self.close()
        else:
            self._abandon()


def png_context(width: int, height: int, options: Mapping[str, str] | None = None):
    """A PNG codec context for frames of one size; reuse it for a sequence of writes."""
    av = _av()
    ctx = av.CodecContext.create("png", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "rgb24"
    # Level 3 encodes a 1080p frame about twice as fast as the default at ~10% more bytes;
    # a screenshot that lands a little later matters less than a core taken from the show.
    ctx.options = {"compression_level": "3", **{str(k): str(v) for k, v in (options or {}).items()}}
    return ctx


def _encode_png(ctx, frame: np.ndarray, av_frame=None) -> list:
    """PNG packets of one frame. `av_frame`, the same picture already in an rgb24 PyAV frame
    (the screenshot writer's converter makes one), skips from_ndarray: that copy holds the
    GIL for ~15 ms at 1080p, long enough to delay the render thread's next frame."""
    av = _av()
    if av_frame is None or (av_frame.width, av_frame.height) != (frame.shape[1], frame.shape[0]):
        av_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
    return list(ctx.encode(av_frame))  # the encode itself runs without the GIL


def write_png(
    path: str | os.PathLike[str], frame: np.ndarray, *, context=None, av_frame=None
) -> Path:
    """Write one RGB frame as a PNG, atomically (a half-written screenshot never appears).
    `av_frame`: the same pixels as an rgb24 PyAV frame, when the caller has one (no copy)."""
    path = Path(path)
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3):
        raise EncoderError(
            f"a frame must be an HxWx3 uint8 array (RGB), got {getattr(frame, 'shape', type(frame))}"
        )
    height, width = frame.shape[:2]
    frame = _check_frame(frame, width, height) if av_frame is None else frame
    if av_frame is not None and av_frame.format.name != "rgb24":
        raise EncoderError(f"av_frame must be rgb24, got {av_frame.format.name}")
    ctx = context if context is not None else png_context(width, height)
    ensure_writable(path.parent)
    packets = _encode_png(ctx, frame, av_frame)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for packet in packets:  # straight from the packets' buffers: no joined copy
                fh.write(memoryview(packet))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _why(exc, path) from None
    return path
