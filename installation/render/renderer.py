"""Steps 6 and 7 of a frame: generate on the device, convert to display bytes, copy to host.

One conversion and one host copy per frame, into buffers allocated once:
- the generator runs under inference_mode with a fixed batch of 1 (fp16 on CUDA);
- brightness and the model crossfade are applied to the float image on the device;
- [-1, 1] floats become uint8 in the display's own byte order (e.g. BGRX) on the device, so
  pygame can scale straight from the buffer into the window with no conversion;
- on CUDA the copy lands in a reused pinned host buffer; on the CPU the "copy" is the
  conversion itself writing into a buffer that a pygame surface already wraps.

Two buffers alternate so the generator can fill one while the display reads the other.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from installation.checkpoints import LoadedModel
from installation.networks.stylegan_base import StyleControls
from installation.render.fade import OneDecodeFader
from installation.render.upscale import Upscaler

log = logging.getLogger(__name__)


def choose_device(requested: str = "auto") -> torch.device:
    """ "auto" picks CUDA, then Apple's MPS, then the CPU; a named device must exist."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device 'cuda' was asked for, but torch sees no CUDA GPU (try --device auto)"
        )
    if requested == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise RuntimeError(
            "device 'mps' was asked for, but this machine has no Apple GPU (try --device auto)"
        )
    return torch.device(requested)


def choose_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


@dataclass(frozen=True)
class PixelLayout:
    """Where R, G and B go within each 4-byte pixel, from the display surface's masks."""

    r: int = 2
    g: int = 1
    b: int = 0
    pad: int = 3

    @classmethod
    def from_masks(cls, masks: tuple[int, int, int, int]) -> PixelLayout:
        def byte_of(mask: int) -> int:
            return (mask.bit_length() - 1) // 8  # little-endian byte index

        r, g, b = (byte_of(m) for m in masks[:3])
        return cls(r, g, b, ({0, 1, 2, 3} - {r, g, b}).pop())

    @property
    def pygame_format(self) -> str:
        """The byte order as pygame.image.frombuffer names it ("BGRA": B first in memory)."""
        letters = [""] * 4
        letters[self.r], letters[self.g], letters[self.b], letters[self.pad] = "R", "G", "B", "A"
        return "".join(letters)


class BadFrame(RuntimeError):
    """A generated frame that must not be shown (NaN/Inf, or black while blacks are
    refused); raised before any buffer is written, so the last good frame stays shown."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} frame")
        self.kind = kind


# A picture whose brightest value is below this is black (the range is [-1, 1]).
BLACK_PEAK = -0.98


@dataclass(frozen=True)
class RenderJob:
    """Everything one frame's generation needs, handed to a worker whole: a worker reads no
    attribute the render loop may change meanwhile (the loop swaps models between frames)."""

    model: LoadedModel
    z: np.ndarray
    brightness: float = 1.0
    previous: LoadedModel | None = None  # the outgoing model during a crossfade
    previous_z: np.ndarray | None = None
    mix: float = 1.0  # weight of `model` against `previous`
    index: int | None = None  # the host buffer to fill; None: round robin (sequential loop)
    style: StyleControls | None = None  # truncation, mixing, noise, transform (StyleGAN models)


@dataclass
class Frame:
    """A finished frame: `pixels` is an [H, W, 4] uint8 host array in the display layout."""

    pixels: np.ndarray
    index: int
    gen_ms: float


class FrameRenderer:
    """Owns the device-side model(s) and the output buffers."""

    def __init__(
        self,
        model: LoadedModel,
        device: torch.device,
        dtype: torch.dtype,
        layout: PixelLayout,
        upscale_to: tuple[int, int] | None = None,
        filter: str = "bicubic",
        buffers: int = 2,
        upscaler: Upscaler | None = None,
    ) -> None:
        self.device, self.dtype, self.layout = device, dtype, layout
        self.upscale_to, self.filter = upscale_to, filter
        self.upscaler = upscaler  # display.upscale: a learned upscaler after every decode
        self.model = self.prepare(model)
        self.previous: LoadedModel | None = None
        native = model.card.resolution * (upscaler.scale if upscaler else 1)
        h, w = upscale_to[::-1] if upscale_to else (native, native)
        self.height, self.width = h, w
        pin = device.type == "cuda"
        self._host = [
            torch.empty((h, w, 4), dtype=torch.uint8, pin_memory=pin) for _ in range(buffers)
        ]
        for buf in self._host:
            buf[..., layout.pad] = 255
        self.host_arrays = [buf.numpy() for buf in self._host]
        self._device_buf = (
            torch.full((h, w, 4), 255, dtype=torch.uint8, device=device)
            if device.type != "cpu"
            else None
        )
        self._next = 0
        # Frame guard: whether each buffer's frame was all black; while `refuse_black` is set
        # (by the kiosk's guard, after black has lasted too long) black frames are BadFrames.
        self.black = [False] * buffers
        self.refuse_black = False
        # Set by the runtime for sequential CPU loops: a crossfade at one decode per frame.
        self.fader: OneDecodeFader | None = None

    def prepare(self, model: LoadedModel) -> LoadedModel:
        """Move to the device and precision. Call off the render thread for new models."""
        model.module.to(self.device, self.dtype).eval()
        return model

    def _decode(
        self, model: LoadedModel, z: torch.Tensor, style: StyleControls | None = None
    ) -> torch.Tensor:
        module = model.module
        if getattr(module, "styled", False):
            # Style-based models take z in float32 (the mapping runs in fp32) plus the controls.
            x = module.decode(z.float(), style or StyleControls())[0]
        elif style is not None and hasattr(module, "excitations"):
            # Few-shot models: style.mix blends toward a second latent's excitation, and
            # noise.strength scales the injected noise.
            kwargs: dict = {"noise": style.noise_strength}
            if (
                style.mix_z is not None
                and style.mix > 0.0
                and style.mix_z.shape[-1] == module.latent_dim
            ):
                kwargs.update(mix_z=style.mix_z.to(self.device, self.dtype), mix=style.mix)
            x = module.decode(z.to(self.dtype), **kwargs)[0]
        else:  # nothing asked, or a model without styles, excitation or noise: the plain picture
            x = module.decode(z.to(self.dtype))[0]
        if self.upscaler is not None and x.shape[0] == self.upscaler.channels:
            x = self.upscaler(x)
        if x.shape[0] == 1:
            x = x.expand(3, -1, -1)
        # Also when a hot-swapped model's resolution differs from the buffers' (CPU too).
        if x.shape[-1] != self.width or x.shape[-2] != self.height:
            mode = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic"}[self.filter]
            kwargs = {} if mode == "nearest" else {"align_corners": False}
            x = F.interpolate(x[None].float(), size=(self.height, self.width), mode=mode, **kwargs)[
                0
            ]
        return x

    def _decode_np(
        self, model: LoadedModel, z: np.ndarray, style: StyleControls | None = None
    ) -> torch.Tensor:
        return self._decode(model, torch.from_numpy(z).to(self.device)[None], style).float()

    def render(
        self,
        z: np.ndarray,
        brightness: float = 1.0,
        previous_z: np.ndarray | None = None,
        mix: float = 1.0,
        index: int | None = None,
        style: StyleControls | None = None,
    ) -> int:
        """One frame of the current model(s), on the thread that owns this renderer."""
        return self.render_job(
            RenderJob(self.model, z, brightness, self.previous, previous_z, mix, index, style)
        )

    @torch.inference_mode()
    def render_job(self, job: RenderJob) -> int:
        """Generate and convert one frame into a host buffer; returns its index.

        `job.mix` < 1 blends in `job.previous` (a crossfade after a swap) at `previous_z`;
        `job.style` carries the StyleGAN controls (ignored by other models).
        Safe on a pipeline worker when `job.index` is given: it reads only the job and
        buffers allocated once.
        """
        z, previous_z, mix, index = job.z, job.previous_z, job.mix, job.index
        model, previous, style = job.model, job.previous, job.style
        zt = torch.from_numpy(z).to(self.device, non_blocking=True)[None]
        if self.fader is not None:

            def decode(m: LoadedModel, latent: np.ndarray) -> torch.Tensor:
                return self._decode_np(m, latent, style)

            x = self.fader.picture(decode, model, previous, z, previous_z, mix)
        else:
            x = self._decode(model, zt, style).float()
        if self.fader is None and mix < 1.0 and previous is not None:
            pz = z if previous_z is None else previous_z
            if pz.shape[0] == previous.latent_dim:
                pzt = torch.from_numpy(pz).to(self.device)[None]
                old = self._decode(previous, pzt, style).float()
                if old.shape == x.shape:
                    x = torch.lerp(old, x, mix)
        # The frame guard: two reductions, read back once (a sync on a GPU, which the copy
        # below needs anyway). A NaN or Inf anywhere makes the sum non-finite.
        peak, total = torch.stack((x.amax(), x.sum())).tolist()
        if not (math.isfinite(total) and math.isfinite(peak)):
            raise BadFrame("non-finite")
        black = peak <= BLACK_PEAK
        if black and self.refuse_black:
            raise BadFrame("black")
        # [-1, 1] -> [0, 255] with brightness folded into the same multiply-add.
        scale = 127.5 * job.brightness
        rgb = x.mul(scale).add_(scale).clamp_(0, 255).to(torch.uint8)
        if index is None:
            index = self._next
            self._next = (self._next + 1) % len(self._host)
        self.black[index] = black
        target = self._device_buf if self._device_buf is not None else self._host[index]
        lay = self.layout
        target[..., lay.r] = rgb[0]
        target[..., lay.g] = rgb[1]
        target[..., lay.b] = rgb[2]
        if self._device_buf is not None:
            self._host[index].copy_(self._device_buf, non_blocking=True)
            if self.device.type == "cuda":
                torch.cuda.current_stream(self.device).synchronize()
        return index

    def reset_device(self) -> None:
        """Recovery after a stall: wait out the device's queue and drop its cached memory."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
