"""Fixtures shared by the OSC tests."""

from __future__ import annotations

import socket

import pytest
from osc_support import udp_socket


@pytest.fixture
def udp():
    """Bound UDP sockets on loopback, closed after the test."""
    made: list[socket.socket] = []

    def make() -> socket.socket:
        made.append(udp_socket())
        return made[-1]

    yield make
    for sock in made:
        sock.close()
