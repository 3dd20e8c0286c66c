"""OSCQuery LISTEN over a real websocket client (websocket-client) on loopback, in a real
show; python-oscquery's own client reading the tree; two shows on zeroconf."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest
from osc_support import oscquery_server, wait_for
from test_osc_server import Running

from installation.control.osc.parse import encode_message, parse_packet
from installation.events import ControlEvent

websocket = pytest.importorskip(
    "websocket", reason="the websocket-client test dependency is not installed"
)


@pytest.fixture
def show(tmp_path: Path):
    running = Running(tmp_path)
    yield running
    running.close()


def connect(show: Running):
    ws = websocket.create_connection(f"ws://127.0.0.1:{show.server.oscquery.port}/", timeout=5)
    return ws


def next_message(ws) -> tuple[str, tuple]:
    opcode, data = ws.recv_data()
    assert opcode == websocket.ABNF.OPCODE_BINARY
    (group,) = parse_packet(data)
    (message,) = group.messages
    return message.address, message.args


def test_listen_pushes_the_value_then_each_change_and_ignore_stops_it(show: Running) -> None:
    show.loop.step()
    ws = connect(show)
    try:
        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/walk/speed"}))
        assert next_message(ws) == ("/walk/speed", (pytest.approx(0.25),))  # the current value
        # A change from OSC (UDP) reaches the listener.
        show.send(encode_message("/walk/speed", [1.5]))
        show.loop.step()
        assert next_message(ws) == ("/walk/speed", (1.5,))
        ws.send(json.dumps({"COMMAND": "IGNORE", "DATA": "/walk/speed"}))
        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/walk/paused"}))
        assert next_message(ws)[0] == "/walk/paused"
        show.loop.hooks.events.put(ControlEvent("walk.speed", -1.0))
        show.loop.hooks.events.put(ControlEvent("walk.paused", 1.0))
        show.loop.step()
        assert next_message(ws) == ("/walk/paused", (True,))  # and not /walk/speed any more
        ws.ping(b"x")
    finally:
        ws.close()
    assert wait_for(lambda: not show.server.oscquery.http.websockets())


def test_state_nodes_can_be_listened_to(show: Running) -> None:
    ws = connect(show)
    try:
        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/state/fps"}))
        deadline = time.monotonic() + 10
        ws.settimeout(0.05)
        while True:
            assert time.monotonic() < deadline
            show.loop.step()
            try:
                address, args = next_message(ws)
            except websocket.WebSocketTimeoutException:
                continue
            if args[0] > 0:
                break
        assert address == "/state/fps"
    finally:
        ws.close()


def test_bad_listens_and_a_thousand_subscriptions_are_refused_and_counted(show: Running) -> None:
    ws = connect(show)
    try:
        for i in range(1000):
            ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": f"/walk/nope{i}"}))
        for bad in (
            "not json",
            json.dumps({"COMMAND": "FLY"}),
            json.dumps({"COMMAND": "LISTEN", "DATA": ["/walk/speed"]}),
            json.dumps([1, 2]),
            json.dumps({"COMMAND": "LISTEN", "DATA": "/screenshot"}),
        ):
            ws.send(bad)
        assert wait_for(lambda: show.server.oscquery.counters["listen_refused"] >= 1005)
        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/walk/speed"}))
        assert next_message(ws)[0] == "/walk/speed"  # it still listens
    finally:
        ws.close()


def test_a_listener_that_never_reads_is_dropped_not_buffered(show: Running) -> None:
    sock = socket.create_connection(("127.0.0.1", show.server.oscquery.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        sock.sendall(
            f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert b"101" in sock.recv(4096)
        payload = json.dumps({"COMMAND": "LISTEN", "DATA": "/norm/walk/speed"}).encode()
        mask = b"\x01\x02\x03\x04"
        sock.sendall(
            bytes([0x81, 0x80 | len(payload)])
            + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        )
        http = show.server.oscquery.http
        assert wait_for(lambda: any(c.data.get("listen") for c in http.websockets()))
        (conn,) = http.websockets()

        # Value pushes coalesce (latest per address), so to pass the send limit in a test
        # push big messages the way every push goes out, while the client reads nothing.
        def pushed_enough() -> bool:
            for _ in range(20):
                http.call_soon(lambda: http.send_ws(conn, b"\0" * 16384))
            show.server.oscquery.notify([("/norm/walk/speed", time.monotonic() % 1.0)])
            return http.counters["slow_client"] >= 1

        assert wait_for(pushed_enough, timeout=20)
        assert not http.websockets()
        frame_start = time.perf_counter()
        show.loop.step()  # the show never waited on it
        assert time.perf_counter() - frame_start < 1.0
    finally:
        sock.close()


def test_python_oscquery_client_reads_the_tree(show: Running) -> None:
    oscquery_client = pytest.importorskip(
        "pythonoscquery.osc_query_client", reason="python-oscquery is not installed"
    )
    from zeroconf import ServiceInfo

    port = show.server.oscquery.port
    info = ServiceInfo(
        "_oscjson._tcp.local.",
        "t._oscjson._tcp.local.",
        port=port,
        addresses=[socket.inet_aton("127.0.0.1")],
    )
    client = oscquery_client.OSCQueryClient(info)
    # Every top-level branch; these raised on /cue/next before write-only nodes had a VALUE.
    # Not /learn: it is a trigger with a child (/learn/cancel), which the proposal allows
    # and python-oscquery 0.4 refuses (a node is a container or a method, never both).
    for branch in (
        "/walk",
        "/cue",
        "/norm",
        "/state",
        "/model",
        "/screenshot",
        "/status",
        "/output",
    ):
        assert client.query_node(branch) is not None, branch
    cue = client.query_node("/cue/next")
    assert cue is not None and cue.value == [None]
    assert client.get_host_info().extensions["LISTEN"] is True


def test_two_shows_with_one_name_are_both_advertised(caplog: pytest.LogCaptureFixture) -> None:
    zeroconf = pytest.importorskip(
        "zeroconf", reason="the optional zeroconf package is not installed"
    )

    caplog.set_level(logging.INFO, logger="installation.control.osc.oscquery")
    servers = [oscquery_server(name="twin-show", zeroconf=True) for _ in range(2)]
    browser = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
    try:
        servers[0].start()
        assert wait_for(lambda: servers[0].advertised, timeout=15)
        servers[1].start()
        assert wait_for(lambda: servers[1].advertised, timeout=15), caplog.text
        assert servers[1].advertised_name == "twin-show (2)"
        info = browser.get_service_info(
            "_oscjson._tcp.local.", "twin-show (2)._oscjson._tcp.local.", timeout=3000
        )
        assert info is not None and info.port == servers[1].port
        assert "advertised as 'twin-show (2)'" in caplog.text
    finally:
        browser.close()
        for srv in servers:
            srv.stop()


def test_the_status_counters_are_readable_over_oscquery(show: Running) -> None:
    import urllib.request

    show.send(b"garbage")
    show.send(encode_message("/walk/speed", [0.5]))  # forces a fresh snapshot below
    port = show.server.oscquery.port

    def counted() -> bool:
        show.loop.step()
        url = f"http://127.0.0.1:{port}/counters/osc/dropped/malformed?VALUE"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())["VALUE"] == [1]
        except OSError:
            return False

    assert wait_for(counted, timeout=10)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/counters/osc", timeout=5) as r:
        names = json.loads(r.read())["CONTENTS"]
    assert {"timetag_clamped", "status_refused", "tcp", "dropped", "packets"} <= names.keys()
