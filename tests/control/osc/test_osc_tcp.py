"""OSC over TCP with real sockets: both framings, bad framings counted, bounded connections,
and liblo's own `oscsend` (osc.tcp://, size-prefixed) where it is installed."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest
from osc_support import wait_for
from pythonosc import slip
from test_osc_server import Running

from installation.control.osc.parse import encode_message, parse_packet


def framed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def read_framed(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        chunk = conn.recv(65536)
        assert chunk, "the show hung up"
        buf += chunk
    return buf[4:]


@pytest.fixture
def show(tmp_path: Path):
    running = Running(tmp_path, tcp_max_clients=4, tcp_idle_timeout=1.0)
    yield running
    running.close()


def test_size_prefixed_framing_sets_values_and_gets_status_framed_the_same(show: Running) -> None:
    with socket.create_connection(("127.0.0.1", show.port), timeout=5) as conn:
        conn.sendall(
            framed(encode_message("/output/brightness", [0.25])) + framed(encode_message("/status"))
        )
        reply = read_framed(conn)
        assert any(
            m.address == "/status/osc/packets" for g in parse_packet(reply) for m in g.messages
        )
        assert wait_for(lambda: show.server.receiver.counters["messages"] >= 2)
    show.loop.step()
    assert show.loop.targets["output.brightness"] == 0.25


def test_slip_framing_still_works(show: Running) -> None:
    with socket.create_connection(("127.0.0.1", show.port), timeout=5) as conn:
        conn.sendall(slip.encode(encode_message("/output/brightness", [0.5])))
        assert wait_for(lambda: show.server.receiver.counters["messages"] >= 1)
    show.loop.step()
    assert show.loop.targets["output.brightness"] == 0.5


def test_neither_framing_and_mixed_framings_are_counted_and_closed(show: Running) -> None:
    counters = show.server.receiver.counters
    with socket.create_connection(("127.0.0.1", show.port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\n\r\n")  # neither
        assert conn.recv(16) == b""
    assert counters["framing"] == 1
    with socket.create_connection(("127.0.0.1", show.port), timeout=5) as conn:
        # Starts size-prefixed, then switches to SLIP: the size cannot be trusted any more.
        conn.sendall(
            framed(encode_message("/output/brightness", [0.3]))
            + slip.encode(encode_message("/status"))
        )
        assert conn.recv(16) == b""
    assert counters["oversize"] + counters["framing"] == 2
    show.loop.step()
    assert show.loop.targets["output.brightness"] == pytest.approx(
        0.3
    )  # what came before the switch counts


def test_idle_connections_give_way_and_time_out(show: Running) -> None:
    tcp = show.server.tcp
    idle = [socket.create_connection(("127.0.0.1", show.port), timeout=5) for _ in range(4)]
    try:
        assert wait_for(lambda: tcp.counters["open"] == 4)
        # A fifth controller is not locked out: the connection silent the longest gives way.
        with socket.create_connection(("127.0.0.1", show.port), timeout=5) as fresh:
            fresh.sendall(framed(encode_message("/status")))
            assert read_framed(fresh)
            assert tcp.counters["evicted"] == 1
            assert idle[0].recv(16) == b""  # the oldest was the one closed
        # And the rest are closed once silent for tcp_idle_timeout (1 s here).
        assert wait_for(lambda: tcp.counters["idle_closed"] >= 3, timeout=5)
        assert wait_for(lambda: tcp.counters["open"] == 0)
    finally:
        for sock in idle:
            sock.close()
    with socket.create_connection(("127.0.0.1", show.port), timeout=5) as conn:
        conn.sendall(framed(encode_message("/status")))
        got = {m.address: m.args for g in parse_packet(read_framed(conn)) for m in g.messages}
    assert got["/status/osc/tcp/evicted"] == (1,)


@pytest.mark.skipif(
    shutil.which("oscsend") is None, reason="liblo's oscsend is not installed (Debian liblo-tools)"
)
def test_liblo_oscsend_over_tcp_is_applied(show: Running) -> None:
    # liblo's real client, with its default TCP framing (OSC 1.0 size prefix).
    subprocess.run(
        ["oscsend", f"osc.tcp://127.0.0.1:{show.port}", "/output/brightness", "f", "0.125"],
        check=True,
        timeout=10,
    )
    assert wait_for(lambda: show.server.receiver.counters["messages"] >= 1)
    show.loop.step()
    assert show.loop.targets["output.brightness"] == 0.125
    assert show.server.receiver.counters["framing"] == 0


CLIENTS = Path(__file__).resolve().parents[2] / "clients"


@pytest.mark.skipif(
    shutil.which("node") is None or not (CLIENTS / "node_modules" / "osc").is_dir(),
    reason="node or osc.js missing (npm install --prefix tests/clients)",
)
def test_osc_js_over_udp_and_tcp(show: Running) -> None:
    result = subprocess.run(
        ["node", str(CLIENTS / "oscjs_client.js"), str(show.port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    import json

    assert "/status/osc/packets" in json.loads(result.stdout.strip().splitlines()[-1])
    assert wait_for(lambda: show.server.receiver.counters["messages"] >= 3)
    show.loop.step()
    assert show.loop.targets["walk.speed"] == pytest.approx(1.0)  # 0.75 of -2..2
    assert show.loop.targets["output.brightness"] == 0.5  # the TCP (SLIP) one
    assert show.server.receiver.counters["framing"] == 0
