"""The health endpoint over real loopback TCP while a real render loop plays on this thread."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time

from PIL import Image

from installation.app import RunOptions, ShowRuntime
from installation.config.show import parse_show

from ._kiosk_util import free_port, get


def _playing(show_dict: dict, health: dict, work) -> dict:
    """Run the loop on this (the main) thread while `work(port)` runs on another; its result."""
    port = free_port()
    show = parse_show(
        {
            **show_dict,
            "display": {**show_dict["display"], "fps": 30},
            "kiosk": {"health": {"enabled": True, "port": port, **health}},
        }
    )
    rt = ShowRuntime(show, RunOptions(headless=True, fps=30))
    result: dict = {}
    try:
        loop = rt.build_loop()
        rt.start_services()

        def client() -> None:
            try:
                result["value"] = work(port)
            except BaseException as exc:  # re-raised on the test's thread
                result["error"] = exc
            finally:
                loop.running = False

        for _ in range(5):  # a first status is published before anyone asks
            loop.step()
        thread = threading.Thread(target=client)
        thread.start()
        deadline = time.monotonic() + 60
        while loop.running and time.monotonic() < deadline:
            loop.step()
            time.sleep(1 / 30)
        thread.join(10)
        result["frames"] = loop.frame
    finally:
        rt.close()
    if "error" in result:
        raise result["error"]
    return result


def test_health_screenshot_and_log_answer_while_the_show_plays(show_dict) -> None:
    def work(port: int) -> dict:
        logging.getLogger("installation.test").warning("hello from the log tail")
        status, body = get(port, "/health")
        assert status == 200
        health = json.loads(body)
        status, png = get(port, "/screenshot.png")
        assert status == 200
        image = Image.open(io.BytesIO(png))
        deadline = time.monotonic() + 10
        while True:  # the log thread writes the ring a moment later
            status, text = get(port, "/log?lines=50")
            if b"hello from the log tail" in text or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return {
            "health": health,
            "size": image.size,
            "mode": image.mode,
            "log": text.decode(),
            "missing": get(port, "/nope")[0],
            "post": _raw(port, b"POST /health HTTP/1.1\r\n\r\n"),
            "garbage": _raw(port, b"\x16\x03\x01garbage\r\n\r\n"),
        }

    result = _playing(show_dict, {}, work)["value"]
    health = result["health"]
    for key in (
        "fps",
        "frame_p99_ms",
        "uptime_s",
        "model",
        "restarts",
        "last_error",
        "memory_mb",
        "trainer",
        "refused_frames",
        "recoveries",
        "threads",
        "params",
    ):
        assert key in health, key
    assert health["ok"] and health["model"]["id"] == "tiny" and health["memory_mb"] > 10
    assert health["params"]["walk.speed"] == 0.5
    assert result["size"] == (32, 32) and result["mode"] == "RGB"
    assert "hello from the log tail" in result["log"]
    assert result["missing"] == 404
    assert result["post"].startswith(b"HTTP/1.1 405") and result["garbage"].startswith(
        b"HTTP/1.1 400"
    )


def test_a_token_is_required_when_set(show_dict) -> None:
    def work(port: int) -> dict:
        return {
            "none": get(port, "/health")[0],
            "wrong": get(port, "/health", token="nope")[0],
            "bearer": get(port, "/health", token="s3cret")[0],
            "query": get(port, "/health?token=s3cret")[0],
        }

    assert _playing(show_dict, {"token": "s3cret"}, work)["value"] == {
        "none": 401,
        "wrong": 401,
        "bearer": 200,
        "query": 200,
    }


def test_idle_connections_cannot_lock_it_out_and_the_show_keeps_playing(show_dict) -> None:
    def work(port: int) -> dict:
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        try:
            started = time.monotonic()
            status = get(port, "/health")[0]
            return {
                "status": status,
                "took": time.monotonic() - started,
                "threads": threading.active_count() - before,
            }
        finally:
            for s in idle:
                s.close()

    result = _playing(show_dict, {}, work)
    assert result["value"]["status"] == 200  # the oldest idle ones made room
    assert result["value"]["threads"] == 0  # no thread per connection
    assert result["frames"] > 5


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        return data


def test_one_request_per_connection_no_cors_no_caching(show_dict) -> None:
    """The health endpoint on the shared HTTP server (web/http.py): a keep-alive request is
    answered and the connection closed; no CORS header (OSCQuery's answers carry one), so
    a web page on the gallery's machine cannot read it; nothing cached; no preflight."""

    def work(port: int) -> dict:
        return {
            "get": _raw(port, b"GET /health HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
            "options": _raw(port, b"OPTIONS /health HTTP/1.1\r\n\r\n"),
        }

    result = _playing(show_dict, {}, work)["value"]
    head, _, body = result["get"].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["ok"] is not None
    assert b"Connection: close" in head and b"Cache-Control: no-store" in head
    assert b"Access-Control" not in head
    assert result["options"].startswith(b"HTTP/1.1 405")
    assert b"Allow: GET, HEAD\r\n" in result["options"]


def test_it_is_off_by_default_and_loopback_when_on(show_dict) -> None:
    show = parse_show(show_dict)
    assert show.kiosk.health.enabled is False and show.kiosk.health.host == "127.0.0.1"
