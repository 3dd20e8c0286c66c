"""The render heartbeat: the show sends a small datagram a few times a second, the
supervisor reads them. A datagram socket pair, so the render thread never waits: a send
that would block is dropped (the next one, 250 ms later, says the same).

A beat is JSON: {"pid", "frame", "t"} (t: the show's uptime). The supervisor treats the
first beat with frame > 0 from a new process as "the show is back".
"""

from __future__ import annotations

import json
import os
import socket

HEARTBEAT_FD_ENV = "INSTALLATION_HEARTBEAT_FD"


def heartbeat_pair() -> tuple[socket.socket, socket.socket]:
    """(supervisor end, show end); the show end is inherited by the child."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)
    theirs.set_inheritable(True)
    return ours, theirs


class HeartbeatSender:
    """The show's end. `beat` is called on the render thread and never blocks."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setblocking(False)
        self.sent = self.dropped = 0

    @classmethod
    def from_env(cls) -> HeartbeatSender | None:
        fd = os.environ.get(HEARTBEAT_FD_ENV, "")
        if not fd.isdigit():
            return None
        try:
            return cls(socket.socket(fileno=int(fd)))
        except OSError:
            return None

    def beat(self, frame: int, uptime: float) -> None:
        try:
            self.sock.send(json.dumps({"pid": os.getpid(), "frame": frame, "t": uptime}).encode())
            self.sent += 1
        except (BlockingIOError, InterruptedError):
            self.dropped += 1
        except OSError:  # the supervisor is gone: nothing listens, and nothing must break
            self.dropped += 1

    def close(self) -> None:
        self.sock.close()


def read_beats(sock: socket.socket) -> list[dict]:
    """Every beat waiting on the supervisor's end (non-blocking)."""
    beats = []
    while True:
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return beats
        try:
            beat = json.loads(data)
        except ValueError:
            continue
        if isinstance(beat, dict):
            beats.append(beat)
