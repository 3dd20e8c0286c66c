"""OSCQuery's HTTP server against hostile and odd clients, over real loopback sockets:
bounded connections, timeouts, keep-alive, CORS, the allow-list, bad requests."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
from osc_support import oscquery_server, wait_for

from installation.control.osc.oscquery import OscQueryServer
from installation.control.osc.receiver import AllowList
from installation.web.http import HttpLimits


def make(**limits) -> OscQueryServer:
    srv = oscquery_server(limits=HttpLimits(**limits) if limits else None)
    srv.start()
    return srv


@pytest.fixture
def server():
    srv = make(max_connections=8, header_timeout=0.5, idle_timeout=1.0)
    yield srv
    srv.stop()


def counters(srv: OscQueryServer) -> dict[str, int]:
    return srv.counter_snapshot()


def raw(srv: OscQueryServer, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as conn:
        conn.sendall(data)
        out = b""
        while chunk := conn.recv(65536):
            out += chunk
        return out


def test_keep_alive_serves_many_requests_on_one_connection_with_cors(
    server: OscQueryServer,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for path in ("/", "/walk/speed?VALUE", "/?HOST_INFO", "/walk/speed"):
            conn.request("GET", path)
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == 200 and response.version == 11
            assert response.getheader("Access-Control-Allow-Origin") == "*"
        assert body["FULL_PATH"] == "/walk/speed"
        conn.request(
            "OPTIONS",
            "/",
            headers={"Origin": "http://page", "Access-Control-Request-Method": "GET"},
        )
        preflight = conn.getresponse()
        preflight.read()
        assert preflight.status == 204 and "GET" in preflight.getheader(
            "Access-Control-Allow-Methods"
        )
    finally:
        conn.close()
    assert counters(server)["accepted"] == 1 and counters(server)["requests"] == 5


def test_idle_connections_are_bounded_and_the_longest_idle_gives_way(
    server: OscQueryServer,
) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(20)]
    try:
        assert wait_for(
            lambda: counters(server)["accepted"] + counters(server)["refused_full"] >= 20
        )
        assert len(server.http.conns) <= 8
        assert threading.active_count() < 20  # one server thread, not one per connection
        # A real client still gets its answer.
        assert b"200 OK" in raw(
            server, b"GET /walk/speed?VALUE HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
    finally:
        for sock in idle:
            sock.close()


def test_slowloris_and_silent_connections_time_out(server: OscQueryServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nX-a: b\r\n")
        start = time.monotonic()
        for _ in range(3):  # trickling a header line every 0.2 s does not extend the deadline
            time.sleep(0.2)
            try:
                slow.sendall(b"X-b: c\r\n")
            except OSError:
                break
        data = slow.recv(4096)
        assert b"408" in data and time.monotonic() - start < 3
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as silent:
        assert b"408" in silent.recv(4096)  # connected, never sent a byte
    assert wait_for(lambda: counters(server)["header_timeout"] >= 2, timeout=5)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/")
    conn.getresponse().read()
    assert wait_for(
        lambda: counters(server)["idle_timeout"] >= 1, timeout=5
    )  # keep-alive, then idle
    conn.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"413"),
        (b"DELETE / HTTP/1.1\r\n\r\n", b"405"),
        (b"GET / HTTP/1.1\r\n" + b"X-long: " + b"a" * 10000 + b"\r\n\r\n", b"431"),
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nbad header line\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", b"400"),  # no key
        (b"GET /%00%ff/../.. HTTP/1.1\r\nConnection: close\r\n\r\n", b"404"),
        (b"GET /?HOST_INFO HTTP/1.0\r\n\r\n", b"200"),  # 1.0 without keep-alive: answered, closed
    ],
)
def test_bad_requests_get_a_status_and_a_count(
    server: OscQueryServer, request_bytes: bytes, status: bytes
) -> None:
    reply = raw(server, request_bytes)
    assert reply.split(b" ")[1] == status, reply[:80]


def test_a_flood_of_connections_and_requests_leaves_it_serving() -> None:
    srv = make(max_connections=16)
    try:

        def hammer() -> None:
            for _ in range(50):
                try:
                    raw(srv, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", timeout=5)
                except OSError:
                    pass

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert counters(srv)["requests"] >= 300
        assert b"200 OK" in raw(srv, b"GET /walk/speed HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert len(srv.http.conns) <= 16
    finally:
        srv.stop()


def test_the_allow_list_applies_before_a_byte_is_read() -> None:
    srv = oscquery_server(allows=AllowList(["10.0.0.0/8"]))
    srv.start()
    try:
        try:
            assert raw(srv, b"GET / HTTP/1.1\r\n\r\n") == b""
        except ConnectionResetError:
            pass  # closed before our request was read: hung up on either way
        assert counters(srv)["not_allowed"] == 1
    finally:
        srv.stop()
