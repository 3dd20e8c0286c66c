"""MIDI input through mido and python-rtmidi.

This module is the only place (with the rest of control/) that imports mido.
"""

from __future__ import annotations


def list_ports(api: str | None = None) -> tuple[list[str], list[str], str | None]:
    """(input names, output names, why none) for the given rtmidi API (None: the default)."""
    try:
        import mido

        backend = mido.Backend("mido.backends.rtmidi" + (f"/{api}" if api else ""), load=True)
        return backend.get_input_names(), backend.get_output_names(), None
    except Exception as exc:  # no ALSA sequencer, no JACK server, no rtmidi: all say why
        return [], [], f"{type(exc).__name__}: {exc}"
