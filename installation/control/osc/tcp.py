"""OSC over TCP, on the OSC network thread: both framings, bounded connections.

Each connection's framing is told from its first byte (parse.tcp_decoder): SLIP (OSC 1.1,
what Open Stage Control and python-osc send) or a 32-bit size prefix (OSC 1.0, liblo's
default for osc.tcp://); anything else is counted as `framing` and closed. At most
`tcp_max_clients` connections: when full, the one silent the longest gives way to the
newcomer (idle sockets can no longer lock controllers out), and a connection silent for
`tcp_idle_timeout` is closed. Each is counted, for /status and OSCQuery.
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from installation.control.osc.config import OscConfig
from installation.control.osc.parse import (
    LengthPrefixDecoder,
    OscParseError,
    SlipDecoder,
    frame_for_tcp,
    tcp_decoder,
)
from installation.control.osc.receiver import Destination, Receiver

log = logging.getLogger(__name__)

TCP_COUNTERS = ("accepted", "evicted", "idle_closed", "open")


@dataclass(eq=False)
class _Client:
    sock: socket.socket
    peer: Destination
    last_active: float
    decoder: SlipDecoder | LengthPrefixDecoder | None = None


class TcpClients:
    def __init__(
        self,
        selector: selectors.BaseSelector,
        receiver: Receiver,
        config: OscConfig,
        send_udp: Callable[[bytes, Destination], None],
    ) -> None:
        self.selector, self.receiver, self.config, self.send_udp = (
            selector,
            receiver,
            config,
            send_udp,
        )
        self.counters: Counter[str] = Counter(dict.fromkeys(TCP_COUNTERS, 0))
        self.clients: dict[socket.socket, _Client] = {}

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, peer = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EMFILE and co: it stays in the backlog; try on the next wake
            return
        if not self.receiver.allows(peer[0]):
            self.receiver.counters["packets"] += 1
            self.receiver.counters["not_allowed"] += 1
            sock.close()
            return
        if len(self.clients) >= self.config.tcp_max_clients:
            oldest = min(self.clients.values(), key=lambda c: c.last_active)
            log.info(
                "osc: TCP full (%d); closing %s:%d, silent for %.0f s, for a new client",
                len(self.clients),
                *oldest.peer[:2],
                time.monotonic() - oldest.last_active,
            )
            self.counters["evicted"] += 1
            self.drop(oldest.sock)
        sock.setblocking(False)
        self.clients[sock] = _Client(sock, (peer[0], peer[1]), time.monotonic())
        self.selector.register(sock, selectors.EVENT_READ, "tcp")
        self.counters["accepted"] += 1
        self.counters["open"] = len(self.clients)

    def on_readable(self, sock: socket.socket) -> None:
        client = self.clients.get(sock)
        if client is None:
            return
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.drop(sock)
            return
        client.last_active = time.monotonic()
        if client.decoder is None:
            client.decoder = tcp_decoder(data[0], self.config.max_packet)
            if client.decoder is None:
                self._count("framing")
                self.drop(sock)
                return
        for frame in client.decoder.feed(data):
            if isinstance(frame, OscParseError):
                self._count(frame.reason)
                continue
            for reply, to in self.receiver.handle(frame, client.peer):
                if to == client.peer:
                    if not self._send(client, reply):
                        return
                else:
                    self.send_udp(reply, to)
        if isinstance(client.decoder, LengthPrefixDecoder) and client.decoder.broken:
            self.drop(sock)

    def _count(self, reason: str) -> None:
        self.receiver.counters["packets"] += 1
        self.receiver.counters[reason] += 1

    def _send(self, client: _Client, reply: bytes) -> bool:
        framing = "size" if isinstance(client.decoder, LengthPrefixDecoder) else "slip"
        framed = frame_for_tcp(reply, framing)
        try:
            client.sock.send(framed)
        except OSError:  # a client that does not read its replies is let go
            self.drop(client.sock)
            return False
        return True

    def expire(self, now: float) -> None:
        for client in list(self.clients.values()):
            if now - client.last_active > self.config.tcp_idle_timeout:
                self.counters["idle_closed"] += 1
                self.drop(client.sock)

    def drop(self, sock: socket.socket) -> None:
        if self.clients.pop(sock, None) is None:
            return
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()
        self.counters["open"] = len(self.clients)

    def close_all(self) -> None:
        for sock in list(self.clients):
            self.drop(sock)
