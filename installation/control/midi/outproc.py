"""MIDI feedback outputs in a small helper process, so opening one never stalls a frame.

python-rtmidi holds the GIL while it creates a client and connects a port (measured on
JACK's dummy driver: 18 ms to create, 11 ms to connect, the render thread stalled for as
long; the fault run saw a 1,080 ms frame at a first connect). Any thread of the show that
calls it stalls the render thread, so the outputs live in a child process that imports
rtmidi and nothing else. The MIDI service thread talks to it over pipes, one line each:

    open ID API PORT-HEX   ->  "ok ID" or "err ID REASON"   (the only command answered)
    send ID BYTES-HEX
    close ID

Run as `python -m installation.control.midi.outproc`; it ends when its stdin closes (the
show exits or dies), so it never outlives the show.
"""

from __future__ import annotations

import itertools
import logging
import os
import select
import subprocess
import sys
from collections.abc import Sequence

from installation.control.midi.names import CLIENT_NAME

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0


class OutputHelper:
    """The parent's side: starts the child on first use, restarts it if it died."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._ids = itertools.count(1)
        self._buf = b""

    def _child(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "installation.control.midi.outproc"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            self._buf = b""
        return self._proc

    def _write(self, line: str) -> bool:
        proc = self._child()
        try:
            assert proc.stdin is not None
            proc.stdin.write(line + "\n")
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def open(self, api: int, port: str) -> int:
        """An id for `port` opened in the child; raises OSError with the child's reason."""
        ident = next(self._ids)
        if not self._write(f"open {ident} {api} {port.encode('utf-8').hex()}"):
            raise OSError(f"cannot open MIDI output {port!r}: the output helper is gone")
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        # Wait in select (the GIL is free meanwhile), not in a blocking read of a text pipe.
        while b"\n" not in self._buf:
            ready, _, _ = select.select([fd], [], [], OPEN_TIMEOUT_S)
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                raise OSError(f"cannot open MIDI output {port!r}: the output helper did not answer")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        word, _, rest = line.decode("utf-8", "replace").partition(" ")
        if word != "ok":
            reason = rest.partition(" ")[2]
            raise OSError(f"cannot open MIDI output {port!r}: {reason}")
        return ident

    def send(self, ident: int, message: Sequence[int]) -> None:
        self._write(f"send {ident} {bytes(message).hex()}")

    def close_port(self, ident: int) -> None:
        self._write(f"close {ident}")

    def close(self) -> None:
        if self._proc is None:
            return
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()  # the child ends at end of input
            self._proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None


class RemoteOutput:
    """One feedback output living in the helper: the same face as ports.OutputPort."""

    def __init__(self, helper: OutputHelper, api: int, port: str) -> None:
        self.port, self._helper = port, helper
        self._id = helper.open(api, port)

    def send(self, message: Sequence[int]) -> None:
        self._helper.send(self._id, message)

    def close(self) -> None:
        self._helper.close_port(self._id)


def main() -> int:  # the child
    import rtmidi

    outs: dict[str, object] = {}
    for line in sys.stdin:
        command, _, rest = line.rstrip("\n").partition(" ")
        try:
            if command == "open":
                ident, api, port_hex = rest.split(" ", 2)
                port = bytes.fromhex(port_hex).decode("utf-8")
                try:
                    rt = rtmidi.MidiOut(rtapi=int(api), name=CLIENT_NAME)
                    rt.open_port(rt.get_ports().index(port), "out")
                except (ValueError, rtmidi.RtMidiError) as exc:
                    sys.stdout.write(f"err {ident} {exc}\n")
                else:
                    outs[ident] = rt
                    sys.stdout.write(f"ok {ident}\n")
                sys.stdout.flush()
            elif command == "send":
                ident, data = rest.split(" ", 1)
                rt = outs.get(ident)
                if rt is not None:
                    rt.send_message(list(bytes.fromhex(data)))  # type: ignore[attr-defined]
            elif command == "close":
                rt = outs.pop(rest.strip(), None)
                if rt is not None:
                    rt.close_port()  # type: ignore[attr-defined]
                    rt.delete()  # type: ignore[attr-defined]
        except (ValueError, rtmidi.RtMidiError):
            continue  # a garbled line from our own parent: skip it, keep serving
    for rt in outs.values():
        rt.close_port()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
