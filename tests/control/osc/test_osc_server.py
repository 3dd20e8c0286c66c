"""The OSC service end to end over real loopback sockets, with the real render loop."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import pytest
from osc_support import receive_messages, show_dict, udp_socket, wait_for
from pythonosc import slip

from installation.app import RunOptions, ShowRuntime
from installation.config.show import parse_show
from installation.control.osc.config import OscConfig
from installation.control.osc.parse import encode_bundle, encode_message, parse_packet, unix_to_ntp
from installation.control.osc.server import OscServer
from installation.params import REGISTRY
from installation.stats import read_stats


class Running:
    """A real show (tiny model, dummy display) with its services, stepped by the test."""

    def __init__(self, tmp_path: Path, **osc) -> None:
        self.stats_path = tmp_path / "stats.jsonl"
        show = parse_show(show_dict(tmp_path, **osc), base_dir=tmp_path)
        self.runtime = ShowRuntime(show, RunOptions(headless=True, stats=self.stats_path))
        self.loop = self.runtime.build_loop()
        self.runtime.start_services()
        servers = [s for s in self.runtime.services if isinstance(s, OscServer)]
        assert len(servers) == 1, "the OSC factory is registered in app.SERVICE_FACTORIES"
        self.server = servers[0]
        assert self.server.address is not None, self.server.error
        self.port = self.server.address[1]

    def send(self, data: bytes, sock: socket.socket | None = None) -> None:
        before = self.server.receiver.counters["packets"]
        if sock is None:
            with udp_socket(bind=False) as own:
                own.sendto(data, ("127.0.0.1", self.port))
        else:
            sock.sendto(data, ("127.0.0.1", self.port))
        assert wait_for(lambda: self.server.receiver.counters["packets"] > before)

    def frames(self) -> list[dict]:
        return read_stats(self.stats_path)[0]

    def close(self) -> None:
        self.runtime.close()


@pytest.fixture
def running(tmp_path: Path):
    show = Running(tmp_path)
    yield show
    show.close()


def test_a_udp_message_changes_a_parameter_within_two_frames(running: Running, udp) -> None:
    running.loop.step()
    sender = udp()
    running.send(encode_message("/output/brightness", [0.25]), sender)
    running.loop.step()
    running.loop.step()
    frames = running.frames()
    changed = [f for f in frames if f["params"]["output.brightness"] == 0.25]
    assert changed and changed[0]["frame"] <= frames[0]["frame"] + 2
    inputs = changed[0]["inputs"]
    assert inputs[0]["target"] == "output.brightness"
    assert inputs[0]["source"] == f"osc:127.0.0.1:{sender.getsockname()[1]}"
    assert inputs[0]["applied"] == 0.25  # the value the frame applied, to audit a session
    # Out of range: the stats say what was applied (clamped), not what was sent.
    running.send(encode_message("/output/brightness", [7.0]), sender)
    running.loop.step()
    running.loop.step()
    last = [f for f in running.frames() if f.get("inputs")][-1]
    assert last["inputs"][0]["applied"] == 1.0


def test_normalized_address_and_pattern(running: Running) -> None:
    running.send(encode_message("/norm/output/brightness", [0.5]))
    running.loop.step()
    assert running.loop.targets["output.brightness"] == 0.5
    # One pattern sets both bool parameters under /walk and /hud ... only /walk/paused here.
    running.send(encode_message("/walk/pa?sed", [True]))
    running.send(encode_message("/{hud,x}/visible", ["on"]))
    running.loop.step()
    assert running.loop.targets["walk.paused"] == 1.0
    assert running.loop.targets["hud.visible"] == 1.0


def test_a_bundle_is_applied_in_one_frame(running: Running) -> None:
    bundle = encode_bundle(
        [
            encode_message("/output/brightness", [0.1]),
            encode_message("/walk/paused", [1]),
            encode_message("/latent/truncation", [1.5]),
        ]
    )
    running.send(bundle)
    running.loop.step()
    t = running.loop.targets
    assert (t["output.brightness"], t["walk.paused"], t["latent.truncation"]) == pytest.approx(
        (0.1, 1.0, 1.5)
    )
    frame = running.frames()[-1]
    assert {i["target"] for i in frame["inputs"]} == {
        "output.brightness",
        "walk.paused",
        "latent.truncation",
    }


def test_a_future_timetag_waits_for_its_frame(running: Running) -> None:
    due = time.time() + 0.3
    running.send(encode_bundle([encode_message("/output/brightness", [0.3])], unix_to_ntp(due)))
    running.loop.step()
    assert running.loop.targets["output.brightness"] == 1.0, "applied before its time"
    assert running.server.scheduler.pending == 1

    def applied() -> bool:
        running.loop.step()
        return running.loop.targets["output.brightness"] == pytest.approx(0.3)

    assert wait_for(applied, timeout=10.0)
    # Not before its time (the timetag is wall-clock time, the loop's clock monotonic: they
    # are converted once on arrival, so allow a millisecond or two).
    assert time.time() >= due - 0.002
    assert running.server.scheduler.pending == 0


def test_status_replies_to_the_sender(running: Running, udp) -> None:
    for _ in range(3):
        running.loop.step()
    running.loop._status_sent = float("-inf")  # the loop reports 4x a second; ask now
    running.loop.step()
    peer = udp()
    peer.sendto(encode_message("/status"), ("127.0.0.1", running.port))
    got = receive_messages(peer, count=5)
    assert got["/status/model"] == ("tiny",)
    assert got["/status/version"] == (42,)
    assert got["/status/frame"][0] >= 3
    assert "/status/uptime" in got and "/status/fps" in got
    assert got["/status/osc/dropped/unknown_address"] == (0,)


def test_tcp_with_slip_framing(running: Running) -> None:
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as conn:
        # Two frames in one write, the second split across writes: the stream reassembles.
        first = slip.encode(encode_message("/output/brightness", [0.7]))
        second = slip.encode(encode_message("/status"))
        before = running.server.receiver.counters["packets"]
        conn.sendall(first + second[:5])
        # The first frame is in: the server now holds the start of the second, so the rest
        # arrives in a separate read, whatever the kernel would have coalesced.
        assert wait_for(lambda: running.server.receiver.counters["packets"] > before)
        conn.sendall(second[5:])
        reply = b""
        while reply.count(slip.END) < 2:
            reply += conn.recv(65536)
    running.loop.step()
    assert running.loop.targets["output.brightness"] == pytest.approx(0.7)
    body = slip.decode(reply.split(slip.END + slip.END)[0] + slip.END)
    assert body.startswith(b"#bundle") and b"/status/osc/packets" in body


def test_feedback_reaches_clients_but_is_not_echoed(tmp_path: Path, udp) -> None:
    watcher, fader = udp(), udp()
    clients = [
        {"host": "127.0.0.1", "port": s.getsockname()[1], "state": False} for s in (watcher, fader)
    ]
    show = Running(tmp_path, feedback=clients)
    try:
        show.loop.step()
        # The fader (which sends from the port it listens on) moves brightness.
        show.send(encode_message("/norm/output/brightness", [0.5]), fader)
        show.loop.step()
        got = receive_messages(watcher, count=2)
        assert got["/output/brightness"] == (0.5,)
        assert got["/norm/output/brightness"] == (0.5,)
        fader.settimeout(0.3)
        with pytest.raises(TimeoutError):
            fader.recvfrom(65536)  # nothing echoed back to the sender
        # A change from the keyboard goes to everyone.
        from installation.events import ControlEvent

        show.loop.hooks.events.put(ControlEvent("walk.paused", 1.0))
        show.loop.step()
        assert receive_messages(fader, count=2)["/walk/paused"] == (1,)  # int, not T/F
    finally:
        show.close()


def test_senders_outside_the_allow_list_are_dropped(tmp_path: Path) -> None:
    show = Running(tmp_path, allow=["10.0.0.0/8"])
    try:
        show.send(encode_message("/output/brightness", [0.2]))
        show.loop.step()
        assert show.loop.targets["output.brightness"] == 1.0
        assert show.server.receiver.counters["not_allowed"] == 1
        assert wait_for(lambda: "not_allowed 1" in show.server.hud_lines()[0])
        with socket.create_connection(("127.0.0.1", show.port), timeout=5) as conn:
            assert conn.recv(16) == b""  # a TCP client outside the list is hung up on
        assert show.server.receiver.counters["not_allowed"] == 2
    finally:
        show.close()


def test_a_taken_port_is_reported_not_fatal(udp) -> None:
    taken = udp()
    config = OscConfig(port=taken.getsockname()[1], tcp=False, oscquery={"enabled": False})
    server = OscServer(config, REGISTRY)
    server.start()
    try:
        assert server.address is None
        assert "cannot listen" in server.hud_lines()[0]
    finally:
        server.stop()


def test_a_64kb_datagram_is_dropped_and_counted(running: Running, udp) -> None:
    sock = udp()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    payload = b"/output/brightness\x00\x00,f\x00\x00" + struct.pack(">f", 0.1) + b"\x00" * 65000
    running.send(payload, sock)
    running.loop.step()
    assert running.server.receiver.counters["oversize"] == 1
    assert running.loop.targets["output.brightness"] == 1.0


def test_feedback_is_rate_limited_and_ends_on_the_latest_value(tmp_path: Path, udp) -> None:
    from installation.events import ControlEvent

    watcher = udp()
    show = Running(
        tmp_path,
        feedback=[{"host": "127.0.0.1", "port": watcher.getsockname()[1]}],
        feedback_rate=4,
    )
    try:
        start = time.monotonic()
        for i in range(1, 21):
            show.loop.hooks.events.put(ControlEvent("output.brightness", i / 20))
            show.loop.step()
        elapsed = time.monotonic() - start
        values = []
        watcher.settimeout(1.0)
        while True:
            try:
                data, _ = watcher.recvfrom(65536)
            except TimeoutError:
                break
            values += [
                m.args[0]
                for g in parse_packet(data)
                for m in g.messages
                if m.address == "/output/brightness"
            ]
        # At most one message per 1/4 s per address, and the last one is the final value.
        assert 1 <= len(values) <= 2 + int(elapsed * 4)
        assert values[-1] == pytest.approx(1.0)
    finally:
        show.close()
