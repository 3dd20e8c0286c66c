"""The health endpoint: remote eyes on an unattended show (off by default).

GET /health           JSON: fps, frame p99, uptime, model and version, restarts, last error,
                      memory, threads, trainer state, refused frames, recoveries
GET /screenshot.png   the frame on screen (without the HUD)
GET /log              the last lines of the log, plain text (?lines=N)

One thread, one `selectors` loop, a bounded number of connections (the oldest idle one is
dropped for a new one), an idle and header timeout, one request per connection. It never
touches the render loop: it reads the snapshot the loop's status sink last published (a
dict replaced whole) and copies the shown frame's host buffer. Bound to 127.0.0.1 unless
configured; with a token, a request without it gets 401.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
MAX_HEADER_BYTES = 8192
IDLE_TIMEOUT_S = 5.0


@dataclass
class _Conn:
    sock: socket.socket
    opened: float = field(default_factory=time.monotonic)
    inbox: bytes = b""
    outbox: bytes = b""


class HealthServer:
    """`sources`: health() -> dict, screenshot() -> PNG bytes or None, log_lines(n) -> list."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        token: str | None,
        health: Callable[[], dict],
        screenshot: Callable[[], bytes | None],
        log_lines: Callable[[int], list[str]],
    ) -> None:
        self.token = token
        self._health, self._screenshot, self._log_lines = health, screenshot, log_lines
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.address = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._conns: dict[int, _Conn] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests = self.rejected = self.evicted = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kiosk-health", daemon=True)
        self._thread.start()
        log.info("health endpoint on http://%s:%d/health", *self.address)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for conn in list(self._conns.values()):
            self._close(conn)
        self._selector.close()
        self._listener.close()

    # -- the loop -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            for key, mask in self._selector.select(timeout=0.2):
                if key.data is None:
                    self._accept()
                elif mask & selectors.EVENT_READ:
                    self._readable(key.data)
                elif mask & selectors.EVENT_WRITE:
                    self._writable(key.data)
            now = time.monotonic()
            for conn in [c for c in self._conns.values() if now - c.opened > IDLE_TIMEOUT_S]:
                self._close(conn)

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        if len(self._conns) >= MAX_CONNECTIONS:  # make room: the oldest goes
            self._close(min(self._conns.values(), key=lambda c: c.opened))
            self.evicted += 1
        sock.setblocking(False)
        conn = _Conn(sock)
        self._conns[sock.fileno()] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn)

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        conn.inbox += data
        if b"\r\n\r\n" not in conn.inbox:
            if len(conn.inbox) > MAX_HEADER_BYTES:
                self._respond(conn, 431, "text/plain", b"request header too large\n")
            return
        self._respond(conn, *self._answer(conn.inbox.split(b"\r\n\r\n", 1)[0]))

    def _respond(self, conn: _Conn, status: int, ctype: str, body: bytes) -> None:
        reason = {
            200: "OK",
            400: "Bad Request",
            401: "Unauthorized",
            404: "Not Found",
            405: "Method Not Allowed",
            431: "Request Header Fields Too Large",
            503: "Service Unavailable",
        }.get(status, "OK")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        conn.outbox = head.encode() + body
        self._selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
        self._writable(conn)

    def _writable(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.outbox)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        conn.outbox = conn.outbox[sent:]
        if not conn.outbox:
            self._close(conn)

    def _close(self, conn: _Conn) -> None:
        self._conns.pop(conn.sock.fileno(), None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # -- requests -------------------------------------------------------------------------
    def _authorised(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        if not self.token:
            return True
        given = query.get("token", [""])[0]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _answer(self, head: bytes) -> tuple[int, str, bytes]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self.rejected += 1
            return 400, "text/plain", b"bad request\n"
        method, target = parts[0], parts[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        url = urlsplit(target)
        query = parse_qs(url.query)
        if method != "GET":
            self.rejected += 1
            return 405, "text/plain", b"GET only\n"
        if not self._authorised(headers, query):
            self.rejected += 1
            return 401, "text/plain", b"token required\n"
        self.requests += 1
        try:
            return self._route(url.path, query)
        except Exception:  # a bug here must not end the endpoint, and never the show
            log.exception("health endpoint: %s failed", url.path)
            return 503, "text/plain", b"internal error\n"

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        if path in ("/", "/health"):
            return 200, "application/json", json.dumps(self._health(), default=str).encode()
        if path == "/screenshot.png":
            png = self._screenshot()
            if png is None:
                return 503, "text/plain", b"no frame yet\n"
            return 200, "image/png", png
        if path == "/log":
            try:
                n = max(1, min(5000, int(query.get("lines", ["200"])[0])))
            except ValueError:
                n = 200
            return 200, "text/plain; charset=utf-8", ("\n".join(self._log_lines(n)) + "\n").encode()
        return 404, "text/plain", b"not found: /health, /screenshot.png, /log\n"


def png_bytes(rgb) -> bytes:
    """An [H, W, 3] uint8 array as PNG bytes (Pillow, a dependency already)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()
