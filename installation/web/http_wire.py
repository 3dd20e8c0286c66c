"""HTTP/1.1 on the wire, pure (bytes in, bytes out): a request head parsed, a response head
written. The server (http.py) owns the sockets; this is the part tests can feed literals."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

# Every answer may be read by a web page on another origin (a browser control surface).
CORS = (("Access-Control-Allow-Origin", "*"),)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()  # more header lines, e.g. Cache-Control


def response_head(
    r: Response,
    *,
    close: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
    cors: bool = True,
) -> bytes:
    lines = [f"HTTP/1.1 {r.status} {HTTPStatus(r.status).phrase}"]
    if r.body or r.status == 200:
        lines.append(f"Content-Type: {r.content_type}")
    lines.append(f"Content-Length: {len(r.body)}")
    lines += [f"{k}: {v}" for k, v in (*(CORS if cors else ()), *r.headers, *extra)]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
    """(method, target, version, lower-cased headers) of a request head, or None if bad."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        headers[name.lower()] = value.strip()
    return parts[0], parts[1], parts[2], headers
