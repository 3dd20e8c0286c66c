"""Local audio input (the optional `audio` extra, sounddevice; off by default): each block
of samples becomes levels on signal.1 .. signal.4, which envelope followers and mappings
use like any incoming value (and the recorder records).

    signal.1  loudness: RMS in dBFS, -60..0 dB as 0..1
    signal.2  onset: spectral flux (how much louder the spectrum got), 0..1
    signal.3  low band, 20-250 Hz        signal.4  high band, 2-8 kHz   (dB, as signal.1)

`analyse` is pure (a block and the previous spectrum in, levels out), so it is tested on
synthetic tones; the stream runs in PortAudio's callback thread and only queues events.
Without the package or an input device the show plays on without it, with a warning.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from installation.events import ControlEvent, EventQueue

log = logging.getLogger(__name__)

FLOOR_DB = -60.0
SIGNALS = ("signal.1", "signal.2", "signal.3", "signal.4")


def _db_level(power: float) -> float:
    """Mean power of a full-scale-1 signal as 0..1 between FLOOR_DB and 0 dBFS."""
    db = 10.0 * math.log10(max(power, 1e-12))
    return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))


def analyse(
    block: np.ndarray, rate: float, previous: np.ndarray | None
) -> tuple[list[float], np.ndarray]:
    """(levels for signal.1..4, this block's magnitude spectrum for the next call)."""
    x = np.asarray(block, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)  # mono
    x = np.nan_to_num(x)
    rms_power = float(np.mean(x * x)) if x.size else 0.0
    window = np.hanning(len(x)) if len(x) > 1 else np.ones(len(x))
    spectrum = np.abs(np.fft.rfft(x * window)) / max(1.0, window.sum() / 2)
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)

    def band(lo: float, hi: float) -> float:
        sel = (freqs >= lo) & (freqs < hi)
        return _db_level(float(np.sum(spectrum[sel] ** 2)) / 2) if sel.any() else 0.0

    if previous is None or previous.shape != spectrum.shape:
        onset = 0.0
    else:
        flux = float(np.sum(np.clip(spectrum - previous, 0.0, None)))
        onset = min(1.0, flux / (float(np.sum(spectrum)) + 1e-9))
    return [_db_level(rms_power), onset, band(20, 250), band(2000, 8000)], spectrum


class AudioInput:
    """A sounddevice input stream that turns blocks into signal events."""

    def __init__(
        self,
        events: EventQueue,
        device: str | int | None = None,
        rate: int = 48_000,
        block: int = 1024,
    ) -> None:
        self.events, self.device, self.rate, self.block = events, device, rate, block
        self._stream = None
        self._previous: np.ndarray | None = None
        self.error = ""

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio's thread
        levels, self._previous = analyse(indata, self.rate, self._previous)
        for name, value in zip(SIGNALS, levels, strict=True):
            self.events.put(ControlEvent(name, value, source="audio"))

    def start(self) -> None:
        try:
            import sounddevice

            self._stream = sounddevice.InputStream(
                device=self.device,
                channels=1,
                samplerate=self.rate,
                blocksize=self.block,
                callback=self._callback,
            )
            self._stream.start()
        except (ImportError, OSError, ValueError) as exc:  # no package, no PortAudio, no device
            self.error = f"audio input off: {exc}"
            log.warning("%s", self.error)
            self._stream = None
        except Exception as exc:  # sounddevice.PortAudioError
            self.error = f"audio input off: {exc}"
            log.warning("%s", self.error)
            self._stream = None

    def describe(self) -> str:
        return self.error or f"audio input {self.device or 'default'} at {self.rate} Hz"

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
