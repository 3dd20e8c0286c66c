"""A small HTTP/1.1 server with websocket upgrade, on ONE thread and one selector.

OSCQuery's JSON and its LISTEN websocket (control/osc/oscquery.py) and the kiosk's health
endpoint (kiosk/health.py) each run one. The handler gets (method, target, lower-cased
headers) and returns a whole Response. What a hostile or broken client can do is bounded,
and each refusal is counted (`counters`, read by /status and OSCQuery):

- at most `max_connections` sockets; when full, the connection idle the longest is closed
  to make room (a keep-alive HTTP client first), else the newcomer is refused;
- a request's headers must be complete within `header_timeout` seconds of its first byte
  (of the accept, for a new connection): a slow-loris client gets 408 and is closed;
- a keep-alive connection idle for `idle_timeout` is closed; so is one that does not read;
- headers over `max_header_bytes` get 431, a request with a body 413, other methods 405;
- the allow-list is applied at accept, before a byte is read;
- a websocket whose unsent data passes `ws_send_limit` (a client that never reads) is
  dropped, so pushes never pile up in memory;
- `keep_alive=False`: one request per connection (the health endpoint's way).

Every answer says `Access-Control-Allow-Origin: *` (a browser control surface may read
OSCQuery) unless `cors=False` (the health endpoint: a web page must not read it).

Nothing here blocks: sockets are non-blocking, and work from other threads (value pushes)
arrives through `call_soon`, which queues a callable and wakes the selector.
"""

from __future__ import annotations

import logging
import os
import queue
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol

from installation.web.http_wire import Response, parse_head, response_head
from installation.web.websocket import (
    BINARY,
    CLOSE,
    CLOSE_GOING_AWAY,
    PING,
    PONG,
    TEXT,
    FrameDecoder,
    WebSocketError,
    accept_key,
    close_frame,
    encode_frame,
)

log = logging.getLogger(__name__)

COUNTERS = (
    "accepted",
    "requests",
    "refused_full",
    "evicted_idle",
    "not_allowed",
    "header_timeout",
    "idle_timeout",
    "bad_request",
    "slow_client",
    "ws_opened",
    "ws_messages",
    "ws_errors",
)
ACCEPT_BURST = 64  # connections accepted per wake-up


@dataclass(frozen=True)
class HttpLimits:
    max_connections: int = 64
    header_timeout: float = 5.0
    idle_timeout: float = 30.0
    backlog: int = 128
    max_header_bytes: int = 8192
    ws_send_limit: int = 256 * 1024
    ws_max_message: int = 16384
    keep_alive: bool = True


class WebSocketHandler(Protocol):
    def on_open(self, conn: Connection) -> None: ...
    def on_text(self, conn: Connection, text: str) -> None: ...
    def on_closed(self, conn: Connection) -> None: ...


@dataclass(eq=False)
class Connection:
    sock: socket.socket
    peer: str
    last_active: float
    request_started: float | None  # first byte of an unfinished request (or the accept)
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    websocket: FrameDecoder | None = None
    closing: bool = False  # close once outbuf is sent
    data: dict[str, Any] = field(default_factory=dict)  # the websocket handler's own state


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        respond: Callable[[str, str, dict[str, str]], Response],
        websocket: WebSocketHandler | None = None,
        allows: Callable[[str], bool] = lambda h: True,
        limits: HttpLimits | None = None,
        name: str = "http",
        cors: bool = True,
    ) -> None:
        self.respond, self.ws, self.allows, self.name = respond, websocket, allows, name
        self.cors = cors
        self.limits = limits = limits or HttpLimits()
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((host, port))
            self._listener.listen(limits.backlog)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self.conns: dict[socket.socket, Connection] = {}
        self._calls: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=1024)
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- lifecycle and other threads -----------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for conn in list(self.conns.values()):
            self._close(conn)
        self._sel.close()
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()

    def call_soon(self, fn: Callable[[], None]) -> bool:
        """Run `fn` on the server thread; False if the queue is full (the caller retries later)."""
        try:
            self._calls.put_nowait(fn)
        except queue.Full:
            return False
        self._wake()
        return True

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # already awake (buffer full) or closed
            pass

    # -- websocket sends (server thread only) ----------------------------------------------
    def send_ws(self, conn: Connection, payload: bytes, opcode: int = BINARY) -> bool:
        """Queue one message; a client this far behind is dropped (and counted)."""
        if conn.sock not in self.conns or conn.closing:
            return False
        if len(conn.outbuf) > self.limits.ws_send_limit:
            self.counters["slow_client"] += 1
            log.warning("%s: dropped websocket client %s: it does not read", self.name, conn.peer)
            self._close(conn)
            return False
        self._send(conn, encode_frame(opcode, payload))
        return True

    def websockets(self) -> list[Connection]:
        return [c for c in self.conns.values() if c.websocket is not None and not c.closing]

    # -- the loop ------------------------------------------------------------------------
    def _run(self) -> None:
        _lower_priority()
        while not self._stop.is_set():
            try:
                ready = self._sel.select(self._timeout())
            except OSError:
                break
            for key, mask in ready:
                try:
                    self._ready(key.fileobj, mask)  # type: ignore[arg-type]
                except Exception:  # one client's bad moment never ends the server
                    log.exception("%s: unexpected error", self.name)
                    conn = self.conns.get(key.fileobj)  # type: ignore[call-overload]
                    if conn is not None:
                        self._close(conn)
            self._expire(time.monotonic())

    def _timeout(self) -> float:
        return 0.5 if not self.conns else 0.1

    def _ready(self, sock: socket.socket, mask: int) -> None:
        if sock is self._listener:
            self._accept()
        elif sock is self._wake_r:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            while True:
                try:
                    self._calls.get_nowait()()
                except queue.Empty:
                    break
        else:
            conn = self.conns.get(sock)
            if conn is None:
                return
            if mask & selectors.EVENT_WRITE:
                self._flush(conn)
            if mask & selectors.EVENT_READ and sock in self.conns:
                self._read(conn)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BURST):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. EMFILE: leave it in the backlog, try again next wake
                return
            if not self.allows(peer[0]):
                self.counters["not_allowed"] += 1
                sock.close()
                continue
            if len(self.conns) >= self.limits.max_connections and not self._evict():
                self.counters["refused_full"] += 1
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            now = time.monotonic()
            self.conns[sock] = Connection(sock, peer[0], now, now)
            self._sel.register(sock, selectors.EVENT_READ)
            self.counters["accepted"] += 1

    def _evict(self) -> bool:
        """Close the connection idle the longest (HTTP before websockets) to make room."""
        idle = [c for c in self.conns.values() if not c.inbuf and not c.outbuf]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: (c.websocket is not None, c.last_active))
        self.counters["evicted_idle"] += 1
        self._close(oldest)
        return True

    def _expire(self, now: float) -> None:
        lim = self.limits
        for conn in list(self.conns.values()):
            if conn.outbuf and now - conn.last_active > lim.idle_timeout:
                self.counters["slow_client"] += 1
                self._close(conn)
            elif conn.websocket is not None:
                continue  # a listener may stay quiet for hours
            elif (
                conn.request_started is not None and now - conn.request_started > lim.header_timeout
            ):
                self.counters["header_timeout"] += 1
                self._reply(conn, Response(HTTPStatus.REQUEST_TIMEOUT), close=True)
            elif (
                conn.request_started is None
                and not conn.outbuf
                and now - conn.last_active > lim.idle_timeout
            ):
                self.counters["idle_timeout"] += 1
                self._close(conn)

    # -- reading ---------------------------------------------------------------------------
    def _read(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        now = time.monotonic()
        conn.last_active = now
        if conn.closing:
            return  # a reply with Connection: close is going out; ignore the rest
        if conn.websocket is not None:
            self._ws_read(conn, data)
            return
        if conn.request_started is None:
            conn.request_started = now
        conn.inbuf += data
        while conn.sock in self.conns and not conn.closing and conn.websocket is None:
            if not self._one_request(conn):
                break
        if conn.websocket is not None and conn.inbuf:  # frames sent right after the upgrade
            rest, conn.inbuf = bytes(conn.inbuf), bytearray()
            self._ws_read(conn, rest)

    def _one_request(self, conn: Connection) -> bool:
        """Handle one complete request from inbuf; False when more bytes are needed."""
        end = conn.inbuf.find(b"\r\n\r\n")
        if end < 0:
            if len(conn.inbuf) > self.limits.max_header_bytes:
                self.counters["bad_request"] += 1
                self._reply(conn, Response(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE), close=True)
            return False
        head = bytes(conn.inbuf[:end])
        del conn.inbuf[: end + 4]
        conn.request_started = time.monotonic() if conn.inbuf else None
        if len(head) > self.limits.max_header_bytes:
            self.counters["bad_request"] += 1
            self._reply(conn, Response(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE), close=True)
            return False
        parsed = parse_head(head)
        if parsed is None:
            self.counters["bad_request"] += 1
            self._reply(conn, Response(HTTPStatus.BAD_REQUEST), close=True)
            return False
        method, target, version, headers = parsed
        self.counters["requests"] += 1
        wants_close = headers.get("connection", "").lower()
        close = (
            not self.limits.keep_alive
            or "close" in wants_close
            or (version == "HTTP/1.0" and "keep-alive" not in wants_close)
        )
        if (
            headers.get("content-length", "0").strip() not in ("", "0")
            or "transfer-encoding" in headers
        ):
            self.counters["bad_request"] += 1
            self._reply(conn, Response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE), close=True)
            return False
        if "websocket" in headers.get("upgrade", "").lower():
            return self._upgrade(conn, method, headers)
        if method == "OPTIONS" and self.cors:  # a browser's CORS preflight
            self._reply(
                conn,
                Response(HTTPStatus.NO_CONTENT),
                close=close,
                extra=(
                    ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
                    ("Access-Control-Allow-Headers", "*"),
                    ("Access-Control-Max-Age", "86400"),
                ),
            )
        elif method not in ("GET", "HEAD"):
            self._reply(
                conn,
                Response(HTTPStatus.METHOD_NOT_ALLOWED),
                close=close,
                extra=(("Allow", "GET, HEAD, OPTIONS" if self.cors else "GET, HEAD"),),
            )
        else:
            answer = self.respond(method, target, headers)
            self._reply(conn, answer, close=close, head_only=method == "HEAD")
        return True

    def _upgrade(self, conn: Connection, method: str, headers: dict[str, str]) -> bool:
        key = headers.get("sec-websocket-key", "")
        if (
            self.ws is None
            or method != "GET"
            or not key
            or headers.get("sec-websocket-version") != "13"
            or "upgrade" not in headers.get("connection", "").lower()
        ):
            self.counters["bad_request"] += 1
            self._reply(
                conn,
                Response(HTTPStatus.BAD_REQUEST),
                close=True,
                extra=(("Sec-WebSocket-Version", "13"),),
            )
            return False
        self._send(
            conn,
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode("ascii"),
        )
        conn.websocket = FrameDecoder(self.limits.ws_max_message)
        conn.request_started = None
        self.counters["ws_opened"] += 1
        self.ws.on_open(conn)
        return False

    def _ws_read(self, conn: Connection, data: bytes) -> None:
        assert conn.websocket is not None and self.ws is not None
        try:
            messages = conn.websocket.feed(data)
        except WebSocketError as exc:
            self.counters["ws_errors"] += 1
            self._send(conn, close_frame(exc.code, str(exc)))
            conn.closing = True
            self._flush(conn)
            return
        for m in messages:
            if m.opcode == TEXT:
                self.counters["ws_messages"] += 1
                try:
                    text = m.payload.decode("utf-8")
                except UnicodeDecodeError:
                    self.counters["ws_errors"] += 1
                    continue
                self.ws.on_text(conn, text)
            elif m.opcode == PING:
                self._send(conn, encode_frame(PONG, m.payload))
            elif m.opcode == CLOSE:
                self._send(
                    conn,
                    close_frame(
                        CLOSE_GOING_AWAY
                        if len(m.payload) < 2
                        else int.from_bytes(m.payload[:2], "big")
                    ),
                )
                conn.closing = True
                self._flush(conn)
                return
            # BINARY (an OSC packet from the client) and PONG: nothing to do

    # -- writing ---------------------------------------------------------------------------
    def _reply(
        self,
        conn: Connection,
        r: Response,
        *,
        close: bool = False,
        head_only: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        data = response_head(r, close=close, extra=extra, cors=self.cors)
        self._send(conn, data if head_only else data + r.body)
        if close:
            conn.closing = True
            self._flush(conn)

    def _send(self, conn: Connection, data: bytes) -> None:
        if conn.outbuf:
            conn.outbuf += data
            return
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(conn)
            return
        if sent < len(data):
            conn.outbuf += data[sent:]
            self._sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)

    def _flush(self, conn: Connection) -> None:
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._close(conn)
                return
            if sent:
                del conn.outbuf[:sent]
                conn.last_active = time.monotonic()
        if conn.outbuf:
            return
        if conn.closing:
            self._close(conn)
        elif conn.sock in self.conns:
            self._sel.modify(conn.sock, selectors.EVENT_READ)

    def _close(self, conn: Connection) -> None:
        if self.conns.pop(conn.sock, None) is None:
            return
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        if conn.websocket is not None and self.ws is not None:
            self.ws.on_closed(conn)


NICE = 5  # how much lower than the render thread this thread runs, where the OS allows it


def _lower_priority() -> None:
    """On a busy machine (two cores, a flood of GETs) the render thread gets the CPU first:
    Linux gives each thread its own nice value, so this thread asks for a lower one."""
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None or not hasattr(threading, "get_native_id"):
        return
    try:
        tid = threading.get_native_id()
        setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICE)
    except OSError as exc:  # not permitted here: it runs at the normal priority
        log.debug(
            "could not lower the %s thread's priority: %s", threading.current_thread().name, exc
        )
