"""Local audio input: the analysis on synthetic sound, and the stream where a device exists."""

from __future__ import annotations

import numpy as np
import pytest

from installation.events import EventQueue
from installation.instruments.audio import AudioInput, analyse

RATE = 48_000


def _tone(freq: float, amp: float, n: int = 1024) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / RATE)).astype(np.float32)


def test_loudness_bands_and_onsets_from_synthetic_sound() -> None:
    silence, _ = analyse(np.zeros(1024, np.float32), RATE, None)
    assert silence == [0.0, 0.0, 0.0, 0.0]
    loud, _ = analyse(_tone(100, 0.5), RATE, None)
    quiet, _ = analyse(_tone(100, 0.05), RATE, None)
    assert loud[0] > quiet[0] > 0.3  # -9 dBFS against -29 dBFS
    assert loud[2] > 0.7 and loud[3] < 0.1  # a 100 Hz tone is all low band
    high, _ = analyse(_tone(4000, 0.5), RATE, None)
    assert high[3] > 0.7 and high[2] < 0.2
    _, before = analyse(np.zeros(1024, np.float32), RATE, None)
    hit, _ = analyse(_tone(1000, 0.8), RATE, before)
    steady, spectrum = analyse(_tone(1000, 0.8), RATE, None)
    again, _ = analyse(_tone(1000, 0.8), RATE, spectrum)
    assert hit[1] > 0.9 and again[1] < 0.05  # an onset, then none while it holds


def test_the_stream_where_a_sound_device_exists() -> None:
    sd = pytest.importorskip(
        "sounddevice", reason="the optional `audio` extra (sounddevice) is not installed"
    )
    try:
        has_input = any(d["max_input_channels"] > 0 for d in sd.query_devices())
    except Exception:
        has_input = False
    if not has_input:
        pytest.skip("no sound input device on this machine")
    audio = AudioInput(EventQueue())
    audio.start()
    try:
        assert audio.error == ""
    finally:
        audio.stop()


def test_an_enabled_input_without_a_device_leaves_the_show_playing(tmp_path) -> None:
    from tests.instruments.support import Stepped, show_dict

    show = Stepped(tmp_path, show_dict(tmp_path, audio={"enabled": True}))
    try:
        show.run(3)
        assert show.loop.frame == 3
        assert show.instrument.audio is not None
        if show.instrument.audio.error:  # no sounddevice, no PortAudio or no device here
            assert any("audio input off" in line for line in show.instrument.hud_lines())
    finally:
        show.close()
