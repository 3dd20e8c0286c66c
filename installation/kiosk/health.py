"""The health endpoint: remote eyes on an unattended show (off by default).

GET /health           JSON: fps, frame p99, uptime, model and version, restarts, last error,
                      memory, threads, trainer state, refused frames, recoveries
GET /screenshot.png   the frame on screen (without the HUD)
GET /log              the last lines of the log, plain text (?lines=N)

It runs on the package's small HTTP server (web/http.py, which OSCQuery uses too): one
thread, one selector, a bounded number of connections (the oldest idle one is dropped for
a new one), a header timeout, one request per connection, no CORS (a web page opened on
the gallery's machine must not read it). It never touches the render loop: it reads the
snapshot the loop's status sink last published (a dict replaced whole) and copies the
shown frame's host buffer. Bound to 127.0.0.1 unless configured; with a token, a request
without it gets 401.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from installation.web.http import HttpLimits, HttpServer
from installation.web.http_wire import Response

log = logging.getLogger(__name__)

LIMITS = HttpLimits(
    max_connections=16, header_timeout=5.0, idle_timeout=5.0, backlog=64, keep_alive=False
)
NO_STORE = (("Cache-Control", "no-store"),)


def _text(status: int, text: str) -> Response:
    return Response(status, text.encode("utf-8"), "text/plain; charset=utf-8", NO_STORE)


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
        self.http = HttpServer(
            host, port, respond=self._respond, limits=LIMITS, name="kiosk-health", cors=False
        )
        self.address = (host, self.http.port)

    @property
    def counters(self) -> dict[str, int]:
        return dict(self.http.counters)

    def start(self) -> None:
        self.http.start()
        log.info("health endpoint on http://%s:%d/health", *self.address)

    def stop(self) -> None:
        self.http.stop()

    # -- requests (the server's thread) -------------------------------------------------
    def _authorised(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        if not self.token:
            return True
        given = query.get("token", [""])[0]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _respond(self, method: str, target: str, headers: dict[str, str]) -> Response:
        url = urlsplit(target)
        query = parse_qs(url.query)
        if not self._authorised(headers, query):
            return _text(401, "token required\n")
        try:
            return self._route(url.path, query)
        except Exception:  # a bug here must not end the endpoint, and never the show
            log.exception("health endpoint: %s failed", url.path)
            return _text(503, "internal error\n")

    def _route(self, path: str, query: dict[str, list[str]]) -> Response:
        if path in ("/", "/health"):
            body = json.dumps(self._health(), default=str).encode()
            return Response(200, body, "application/json", NO_STORE)
        if path == "/screenshot.png":
            png = self._screenshot()
            if png is None:
                return _text(503, "no frame yet\n")
            return Response(200, png, "image/png", NO_STORE)
        if path == "/log":
            try:
                n = max(1, min(5000, int(query.get("lines", ["200"])[0])))
            except ValueError:
                n = 200
            return _text(200, "\n".join(self._log_lines(n)) + "\n")
        return _text(404, "not found: /health, /screenshot.png, /log\n")


def png_bytes(rgb) -> bytes:
    """An [H, W, 3] uint8 array as PNG bytes (Pillow, a dependency already)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()
