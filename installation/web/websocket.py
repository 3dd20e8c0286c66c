"""RFC 6455 websocket framing, pure (bytes in, bytes out; no sockets): what OSCQuery's
LISTEN extension needs and no more.

The server side only: the handshake's accept key, frames from a client (always masked,
RFC 6455 5.1) decoded from a byte buffer fed in any chunks, and unmasked frames to send.
Fragmented messages are reassembled up to `max_message` bytes; anything bigger, an
unmasked client frame, a reserved bit or opcode is a protocol error that closes the
connection with the status code the RFC names.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_PROTOCOL, CLOSE_TOO_BIG, CLOSE_GOING_AWAY = 1002, 1009, 1001


class WebSocketError(Exception):
    """A client broke the protocol; `code` is the close status to send before hanging up."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("ascii") + GUID).digest()).decode(
        "ascii"
    )


def encode_frame(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked frame (servers never mask)."""
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack(">BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
    return head + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return encode_frame(CLOSE, struct.pack(">H", code) + reason.encode("utf-8")[:120])


@dataclass(frozen=True)
class WsMessage:
    opcode: int  # TEXT, BINARY, CLOSE, PING or PONG
    payload: bytes


class FrameDecoder:
    def __init__(self, max_message: int = 65536) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._opcode: int | None = None  # of the fragmented message being reassembled

    def feed(self, data: bytes) -> list[WsMessage]:
        """Whole messages in `data` (and what came before); raises WebSocketError."""
        self._buf += data
        out: list[WsMessage] = []
        while True:
            frame = self._frame()
            if frame is None:
                return out
            fin, opcode, payload = frame
            if opcode >= CLOSE:  # control frames: never fragmented, may interleave
                if not fin or len(payload) > 125:
                    raise WebSocketError(CLOSE_PROTOCOL, "bad control frame")
                out.append(WsMessage(opcode, payload))
                continue
            if opcode == CONTINUATION:
                if self._opcode is None:
                    raise WebSocketError(CLOSE_PROTOCOL, "continuation without a message")
            elif self._opcode is not None:
                raise WebSocketError(CLOSE_PROTOCOL, "new message inside a fragmented one")
            else:
                self._opcode = opcode
            self._parts.append(payload)
            if sum(map(len, self._parts)) > self.max_message:
                raise WebSocketError(CLOSE_TOO_BIG, f"message over {self.max_message} bytes")
            if fin:
                out.append(WsMessage(self._opcode, b"".join(self._parts)))
                self._parts, self._opcode = [], None

    def _frame(self) -> tuple[bool, int, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        if b0 & 0x70:
            raise WebSocketError(CLOSE_PROTOCOL, "reserved bits set (no extension was agreed)")
        opcode = b0 & 0x0F
        if opcode not in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG):
            raise WebSocketError(CLOSE_PROTOCOL, f"unknown opcode {opcode}")
        if not b1 & 0x80:
            raise WebSocketError(CLOSE_PROTOCOL, "client frames must be masked")
        n, at = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            (n,), at = struct.unpack_from(">H", buf, 2), 4
        elif n == 127:
            if len(buf) < 10:
                return None
            (n,), at = struct.unpack_from(">Q", buf, 2), 10
        if n > self.max_message:  # refuse before buffering a huge frame
            raise WebSocketError(CLOSE_TOO_BIG, f"frame over {self.max_message} bytes")
        if len(buf) < at + 4 + n:
            return None
        mask = bytes(buf[at : at + 4])
        masked = bytes(buf[at + 4 : at + 4 + n])
        del buf[: at + 4 + n]
        # XOR with the repeating 4-byte key, as one big-integer operation (fast in Python).
        key = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(masked, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        return bool(b0 & 0x80), opcode, payload
