"""The JACK audio server, as far as MIDI needs it: is one running, and start one for tests.

Where there is no ALSA sequencer (containers, CI machines) JACK's dummy driver still carries
real MIDI between processes, so the tests and the `midi_to_photon` benchmark use it.

Probing never calls libjack: a failed `jack_client_open` prints five lines to stderr, and the
show polls for MIDI once a second. A running jackd (jack2 on Linux) listens on a Unix socket
in /dev/shm whose name holds the server name and the user id, so a connect() on that socket
says whether the server is alive, silently.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEFAULT_SERVER = "default"
log = logging.getLogger(__name__)

# libjack writes its errors straight to stderr (five raw lines each time the server goes
# away); routed through logging they carry a time, a level and our logger's name.
_JackMessage = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
_handlers: list = []  # the ctypes callbacks must live as long as libjack may call them


_seen_errors: set[str] = set()


def _jack_error(text: bytes | None) -> None:
    message = (text or b"").decode("utf-8", "replace").strip()
    # Each kind once as a warning: it repeats at every reconnect attempt while JACK is gone.
    first = message not in _seen_errors and len(_seen_errors) < 100
    _seen_errors.add(message)
    log.log(logging.WARNING if first else logging.DEBUG, "libjack: %s", message)


def _jack_info(text: bytes | None) -> None:
    log.debug("libjack: %s", (text or b"").decode("utf-8", "replace").strip())


def route_libjack_messages() -> bool:
    """Send libjack's error and info messages to logging (once per process). The same
    libjack that python-rtmidi loaded is found by name, so its global hooks are the ones set.
    False where libjack cannot be found."""
    if _handlers:
        return True
    name = ctypes.util.find_library("jack") or "libjack.so.0"
    try:
        lib = ctypes.CDLL(name)
        on_error, on_info = _JackMessage(_jack_error), _JackMessage(_jack_info)
        lib.jack_set_error_function(on_error)
        lib.jack_set_info_function(on_info)
    except (OSError, AttributeError):
        return False
    _handlers.extend([on_error, on_info])
    return True


def server_name() -> str:
    """The server libjack will connect to: $JACK_DEFAULT_SERVER, else "default"."""
    return os.environ.get("JACK_DEFAULT_SERVER") or DEFAULT_SERVER


def _socket_paths(name: str) -> list[Path]:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    tmp = Path(os.environ.get("JACK_TMPDIR", "/dev/shm"))
    # jack2 (Debian jackd2) first, then jack1's layout.
    return [tmp / f"jack_{name}_{uid}_0", tmp / f"jack-{uid}" / name / "jack_0"]


def server_running(name: str | None = None) -> bool:
    """True when a JACK server of that name answers on its socket (no libjack, no output)."""
    for path in _socket_paths(name or server_name()):
        if not path.exists():
            continue
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(0.2)
            sock.connect(str(path))
            return True
        except OSError:
            continue  # a stale socket file left by a server that died
        finally:
            sock.close()
    return False


def jackd_path() -> str | None:
    return shutil.which("jackd")


def start_server(
    name: str, *, rate: int = 48000, period: int = 256, timeout: float = 10.0
) -> subprocess.Popen:
    """Start `jackd --no-realtime -n NAME -d dummy` and wait until it answers.

    --no-realtime because containers and CI runners may not grant realtime scheduling; the
    dummy driver needs no sound card. The caller owns the process and must terminate it.
    """
    jackd = jackd_path()
    if jackd is None:
        raise FileNotFoundError("jackd is not installed (Debian/Ubuntu: apt-get install jackd2)")
    cmd = [jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r", str(rate), "-p", str(period)]
    # Its chatter goes to a file, not a pipe: a pipe nobody reads fills up and blocks jackd.
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_running(name):
            return proc
        if proc.poll() is not None:
            log.seek(0)
            err = log.read()
            log.close()
            raise RuntimeError(f"jackd exited with {proc.returncode}: {err.strip()[-500:]}")
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(f"jackd did not answer within {timeout:.0f} s: {' '.join(cmd)}")


def stop_server(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Stop a server that `start_server` started (only that process)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    log = getattr(proc, "log", None)
    if log is not None:
        log.close()


def virtual_ports_unavailable() -> str | None:
    """Why a JACK server with virtual MIDI ports cannot be started here (None: it can)."""
    if jackd_path() is None:
        return "jackd is not installed (Debian: apt-get install jackd2)"
    try:
        import rtmidi
    except ImportError:
        return "python-rtmidi is not installed"
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return "python-rtmidi was built without JACK"
    return None


class VirtualOutput:
    """A virtual MIDI output port on the JACK server, `<client>:<port>`: a stand-in
    controller that the show can open like a real one (benchmarks drive the show with it)."""

    def __init__(self, client: str, port: str = "ctl") -> None:
        import rtmidi

        self.name = f"{client}:{port}"
        self._out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=client)
        self._out.open_virtual_port(port)

    def send(self, message: list[int]) -> None:
        self._out.send_message(message)

    def close(self) -> None:
        self._out.close_port()
        self._out.delete()
