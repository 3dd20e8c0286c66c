"""sd_notify over a real NOTIFY_SOCKET datagram socket, as systemd listens for it."""

from __future__ import annotations

import socket
from pathlib import Path

from installation.kiosk.notify import sd_notify, watchdog_interval_s


def test_sd_notify_sends_one_datagram_to_the_socket_systemd_names(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        listener.settimeout(5)
        assert sd_notify("READY=1", "STATUS=playing", env={"NOTIFY_SOCKET": str(path)})
        assert listener.recv(1024) == b"READY=1\nSTATUS=playing"


def test_an_abstract_socket_name_works_too() -> None:
    name = f"installation-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.settimeout(5)
        assert sd_notify("WATCHDOG=1", env={"NOTIFY_SOCKET": "@" + name})
        assert listener.recv(1024) == b"WATCHDOG=1"


def test_without_systemd_it_is_a_no_op(tmp_path: Path) -> None:
    assert not sd_notify("READY=1", env={})
    assert not sd_notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})


def test_the_watchdog_interval_is_half_of_watchdog_sec() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({}) is None


def test_a_listener_that_never_reads_does_not_block_the_sender(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        sent = [sd_notify("WATCHDOG=1", env={"NOTIFY_SOCKET": str(path)}) for _ in range(2000)]
    assert sent[0] and not all(sent)  # the queue filled up; the rest were dropped, not waited on
