"""MIDI ports through python-rtmidi: which MIDI system to use, port names, opening ports.

Input ports are opened with python-rtmidi directly (mido's rtmidi backend is a thin layer
over the same library): the raw bytes are needed to honour running status, which mido's
port drops as invalid, and SysEx and clock can then be filtered inside the C++ driver, so a
SysEx flood never reaches Python at all. Messages are decoded with mido.

Port names: ALSA appends client:port numbers ("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0") that
change between boots, so ports are chosen by a name prefix and known by a stable name with
the numbers stripped.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido

from installation.control.midi import jack
from installation.control.midi.config import ProfileError, discover_profiles, match_profile
from installation.control.midi.names import CLIENT_NAME, is_ours, port_matches, stable_name  # noqa: F401

log = logging.getLogger(__name__)

ALSA_SEQ = "/dev/snd/seq"

API_NAMES = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK"}


@dataclass(frozen=True)
class MidiSystem:
    """The chosen rtmidi API, or why there is none."""

    api: int | None  # an rtmidi.API_* value
    name: str  # "alsa", "jack", "default"
    problem: str = ""


def choose_system(preference: str = "auto") -> MidiSystem:
    """The MIDI system to use, found without calling a library that prints to stderr."""
    try:
        import rtmidi
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        return MidiSystem(None, "none", f"python-rtmidi is not installed ({exc})")
    compiled = set(rtmidi.get_compiled_api())
    alsa_ok = rtmidi.API_LINUX_ALSA in compiled and os.path.exists(ALSA_SEQ)
    jack_ok = rtmidi.API_UNIX_JACK in compiled and jack.server_running()
    if preference == "alsa":
        return (
            MidiSystem(rtmidi.API_LINUX_ALSA, "alsa")
            if alsa_ok
            else MidiSystem(
                None, "alsa", f"no ALSA sequencer ({ALSA_SEQ} is missing: modprobe snd-seq)"
            )
        )
    if jack_ok and (preference == "jack" or not (alsa_ok or preference == "alsa")):
        jack.route_libjack_messages()  # before the first client: libjack's own lines go to logging
    if preference == "jack":
        return (
            MidiSystem(rtmidi.API_UNIX_JACK, "jack")
            if jack_ok
            else MidiSystem(
                None,
                "jack",
                f"no JACK server {jack.server_name()!r} is running "
                "(start one: jackd -d alsa, or qjackctl)",
            )
        )
    if not sys.platform.startswith("linux"):
        return MidiSystem(rtmidi.API_UNSPECIFIED, "default")  # CoreMIDI, Windows MM
    if alsa_ok:
        return MidiSystem(rtmidi.API_LINUX_ALSA, "alsa")
    if jack_ok:
        return MidiSystem(rtmidi.API_UNIX_JACK, "jack")
    return MidiSystem(
        None, "none", f"no MIDI system: no ALSA sequencer ({ALSA_SEQ}) and no JACK server"
    )


class PortLister:
    """Lists port names with one persistent client (making a JACK client a second is waste)."""

    def __init__(self, system: MidiSystem) -> None:
        import rtmidi

        self.system = system
        self._in = rtmidi.MidiIn(rtapi=system.api, name=f"{CLIENT_NAME}-probe")
        self._out = rtmidi.MidiOut(rtapi=system.api, name=f"{CLIENT_NAME}-probe")

    def names(self) -> tuple[list[str], list[str]]:
        """(input names, output names), excluding the show's own ports."""
        ins = [n for n in self._in.get_ports() if not is_ours(n)]
        outs = [n for n in self._out.get_ports() if not is_ours(n)]
        return ins, outs

    def close(self) -> None:
        self._in.delete()
        self._out.delete()


class InputPort:
    """One open input. The callback runs on rtmidi's thread (JACK's process thread)."""

    def __init__(
        self,
        system: MidiSystem,
        port: str,
        callback: Callable[[Sequence[int]], None],
        *,
        sysex: bool,
        clock: bool,
    ) -> None:
        import rtmidi

        self.port = port
        self._rt = rtmidi.MidiIn(rtapi=system.api, name=CLIENT_NAME, queue_size_limit=1024)
        try:
            index = self._rt.get_ports().index(port)
            # Filtered in C++: an ignored SysEx flood costs no Python time and no memory.
            self._rt.ignore_types(sysex=not sysex, timing=not clock, active_sense=True)
            self._rt.set_callback(lambda event, _data: callback(event[0]))
            self._rt.open_port(index, "in")
        except (ValueError, rtmidi.RtMidiError) as exc:
            self._rt.delete()
            raise OSError(f"cannot open MIDI input {port!r}: {exc}") from None

    def close(self) -> None:
        # Not cancel_callback(): it frees the Python callback at once, while JACK's thread
        # may already be inside rtmidi's trampoline waiting for the GIL, which then builds
        # its message list on freed memory (segfaults in PyList_New seen on unplugs and JACK
        # restarts). Closing the port stops new calls; the client, and the callback with it,
        # is deleted a moment later, when no call can still be in flight.
        self._rt.close_port()
        retire_input(self._rt)


RETIRE_S = 1.0  # far longer than one JACK cycle (5 ms at 256 frames, 48 kHz)
_retired: list[tuple[float, Any]] = []
_retired_lock = threading.Lock()


def retire_input(rt: Any) -> None:
    """Queue a closed input's rtmidi object for deletion, and delete those old enough."""
    with _retired_lock:
        _retired.append((time.monotonic(), rt))
    reap_retired()


def reap_retired() -> int:
    """Delete closed inputs whose grace period is over; returns how many still wait."""
    now = time.monotonic()
    with _retired_lock:
        due = [r for t, r in _retired if now - t >= RETIRE_S]
        _retired[:] = [(t, r) for t, r in _retired if now - t < RETIRE_S]
        left = len(_retired)
    for old in due:
        old.delete()
    return left


class OutputPort:
    """One open output; only the MIDI service thread sends on it."""

    def __init__(self, system: MidiSystem, port: str) -> None:
        import rtmidi

        self.port = port
        self._rt = rtmidi.MidiOut(rtapi=system.api, name=CLIENT_NAME)
        try:
            self._rt.open_port(self._rt.get_ports().index(port), "out")
        except (ValueError, rtmidi.RtMidiError) as exc:
            self._rt.delete()
            raise OSError(f"cannot open MIDI output {port!r}: {exc}") from None

    def send(self, message: Sequence[int]) -> None:
        self._rt.send_message(list(message))

    def close(self) -> None:
        self._rt.close_port()
        self._rt.delete()


def list_ports(api: str | None = None) -> tuple[list[str], list[str], str | None]:
    """(input names, output names, why none) for the given rtmidi API (None: the MIDI system
    the show would use: the ALSA sequencer, else a running JACK server)."""
    try:
        if api is None:
            system = choose_system("auto")
            if system.api is None:
                return [], [], system.problem
            api = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK"}.get(system.name)
        backend = mido.Backend("mido.backends.rtmidi" + (f"/{api}" if api else ""), load=True)
        return backend.get_input_names(), backend.get_output_names(), None
    except Exception as exc:  # no ALSA sequencer, no JACK server, no rtmidi: all say why
        return [], [], f"{type(exc).__name__}: {exc}"


def device_lines(profiles_dir: Path) -> list[str]:
    """`installation devices`: MIDI ports and the profile that matches each input."""
    inputs, outputs, why = list_ports()
    lines = ["MIDI ports:"]
    if why:
        return [*lines, f"  none ({why})"]
    try:
        profiles = discover_profiles(profiles_dir)
    except ProfileError as exc:
        profiles = []
        lines.append(f"  (profiles not loaded: {exc})")
    for name in inputs:
        found = match_profile(profiles, name)
        label = (
            f"profile {found.stem} ({found.path})"
            if found
            else "no profile (show mappings and learn only)"
        )
        lines.append(f"  in:  {name}  ->  {label}")
    lines += [f"  out: {name}" for name in outputs]
    if not inputs and not outputs:
        lines.append("  none connected")
    return lines
