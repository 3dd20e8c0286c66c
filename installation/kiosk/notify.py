"""sd_notify(3) without libsystemd: one datagram to the socket systemd names in NOTIFY_SOCKET.

With `Type=notify` and `WatchdogSec=` in the unit, the supervisor says READY=1 once the
show's first frame is up and WATCHDOG=1 while it is itself alive; systemd restarts it when
those pings stop. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify_address(env: dict[str, str] | None = None) -> str | bytes | None:
    """Where NOTIFY_SOCKET points: a path, or an abstract socket name ("@..." -> b"\\0...")."""
    path = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not path:
        return None
    return b"\0" + path[1:].encode() if path.startswith("@") else path


def sd_notify(*states: str, env: dict[str, str] | None = None) -> bool:
    """Send "READY=1", "WATCHDOG=1", "STATUS=..." ...; True when a socket took it."""
    address = notify_address(env)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never wait: a listener that does not read (a full queue) must not stall us.
            sock.setblocking(False)
            sock.sendto("\n".join(states).encode(), address)
        return True
    except OSError as exc:  # systemd gone or the socket unreadable: nothing to do about it
        log.debug("sd_notify to %r failed: %s", address, exc)
        return False


def watchdog_interval_s(env: dict[str, str] | None = None) -> float | None:
    """Half of WatchdogSec (systemd sets WATCHDOG_USEC), as sd_watchdog_enabled advises."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6
