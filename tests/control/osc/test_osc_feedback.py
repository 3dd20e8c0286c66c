"""/status reply ports, feedback encodings, the echo guard on one machine and state out, over
real loopback udp; Pure Data's own [oscparse] reads the feedback where Pd is installed."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from osc_support import receive_messages, wait_for
from test_osc_server import Running

from installation.control.osc.parse import encode_message
from installation.events import ControlEvent


def test_status_replies_to_the_port_named_in_the_query_and_to_feedback_clients(
    tmp_path: Path, udp
) -> None:
    listener, watcher, sender = udp(), udp(), udp()
    show = Running(
        tmp_path, feedback=[{"host": "127.0.0.1", "port": watcher.getsockname()[1], "state": False}]
    )
    try:
        show.loop.step()
        # Max's udpsend sends from a port it does not listen on: it names the one it does.
        show.send(encode_message("/status", [listener.getsockname()[1]]), sender)
        assert "/status/osc/packets" in receive_messages(listener)
        assert "/status/osc/packets" in receive_messages(watcher)  # feedback clients get it too
        show.send(encode_message("/status", [f"127.0.0.1:{listener.getsockname()[1]}"]), sender)
        assert "/status/fps" in receive_messages(listener)
        counters = show.server.receiver.counters
        for bad in (
            0,
            65536,
            "10.9.9.9:9000x",
            "8.8.8.8:53",
        ):  # bad ports, a host off the allow-list
            show.send(encode_message("/status", [bad]), sender)
            assert "/status/osc/packets" in receive_messages(sender)  # then it answers the sender
        assert counters["status_refused"] == 4
    finally:
        show.close()


def test_bools_go_out_as_int_unless_a_client_asks_for_tf(tmp_path: Path, udp) -> None:
    plain, tf = udp(), udp()
    show = Running(
        tmp_path,
        feedback=[
            {"host": "127.0.0.1", "port": plain.getsockname()[1], "state": False},
            {"host": "127.0.0.1", "port": tf.getsockname()[1], "state": False, "bools": "TF"},
        ],
    )
    try:
        show.loop.step()
        show.loop.hooks.events.put(ControlEvent("walk.paused", 1.0))
        show.loop.step()
        got = receive_messages(plain, count=2)
        assert got["/walk/paused"] == (1,) and type(got["/walk/paused"][0]) is int
        assert receive_messages(tf, count=2)["/walk/paused"] == (True,)
    finally:
        show.close()


def test_echo_guard_host_on_one_machine_still_feeds_other_local_clients(
    tmp_path: Path, udp
) -> None:
    # Two local clients with echo_guard: host used to silence each other (same host).
    a, b = udp(), udp()
    show = Running(
        tmp_path,
        feedback=[
            {"host": "127.0.0.1", "port": s.getsockname()[1], "state": False, "echo_guard": "host"}
            for s in (a, b)
        ],
    )
    try:
        show.loop.step()
        show.send(encode_message("/norm/output/brightness", [0.5]), a)
        show.loop.step()
        assert receive_messages(b, count=2)["/output/brightness"] == (0.5,)
        a.settimeout(0.3)
        with pytest.raises(TimeoutError):
            a.recvfrom(65536)  # still not echoed to the sender itself
    finally:
        show.close()


def test_state_out_reaches_feedback_clients(tmp_path: Path, udp) -> None:
    client = udp()
    show = Running(
        tmp_path, feedback=[{"host": "127.0.0.1", "port": client.getsockname()[1]}], state_rate=50
    )
    try:
        show.loop.hooks.events.put(ControlEvent("walk.speed", 1.0))
        deadline = time.monotonic() + 20
        got: dict = {}
        # 1 keyframe/s x walk.beats (4) x 60: the tempo settles at 240 bpm.
        while "/state/bpm" not in got or abs(got["/state/bpm"][0] - 240.0) > 12.0:
            assert time.monotonic() < deadline, got
            show.loop.step()
            client.settimeout(0.05)
            try:
                got.update(receive_messages(client, timeout=0.05, state=True))
            except TimeoutError:
                pass
        assert {
            "/state/beat",
            "/state/bar",
            "/state/phase",
            "/state/keyframe",
            "/state/model",
            "/state/version",
            "/state/fps",
        } <= got.keys()
        assert got["/state/model"] == (show.loop.renderer.model.id,)
    finally:
        show.close()


PD_PATCH = """#N canvas 0 0 450 300 12;
#X obj 10 10 netreceive -u -b {port};
#X obj 10 40 oscparse;
#X obj 10 70 print got;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
"""


@pytest.mark.skipif(
    shutil.which("pd") is None, reason="Pure Data is not installed (Debian puredata-core)"
)
def test_pure_data_oscparse_reads_bool_feedback(tmp_path: Path, udp) -> None:
    probe = udp()
    port = probe.getsockname()[1]
    probe.close()  # a free UDP port for Pd
    patch = tmp_path / "feedback.pd"
    patch.write_text(PD_PATCH.format(port=port))
    show = Running(tmp_path, feedback=[{"host": "127.0.0.1", "port": port, "state": False}])
    pd = subprocess.Popen(
        ["pd", "-nogui", "-noaudio", "-nomidi", "-stderr", "-open", str(patch)],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(pd.stderr.readline, "")), daemon=True
    )
    reader.start()
    try:
        value = 0.0

        # Pd takes a moment to open its port: toggle until a value arrives (or the deadline).
        def arrived() -> bool:
            nonlocal value
            value = 1.0 - value
            show.loop.hooks.events.put(ControlEvent("walk.paused", value))
            show.loop.step()
            return any("got: list walk paused" in line for line in lines)

        assert wait_for(arrived, timeout=15), lines
        assert not any("unknown tag" in line for line in lines), lines
    finally:
        pd.kill()
        pd.wait()
        reader.join(timeout=5)
        pd.stderr.close()
        show.close()


def test_state_out_follows_the_shows_tempo_when_one_is_set(tmp_path: Path, udp) -> None:
    client = udp()
    show = Running(
        tmp_path, feedback=[{"host": "127.0.0.1", "port": client.getsockname()[1]}], state_rate=50
    )
    try:
        show.send(encode_message("/tempo", [128.0]))  # the show's tempo, over OSC
        deadline = time.monotonic() + 20
        got: dict = {}
        while got.get("/state/bpm") != (128.0,):
            assert time.monotonic() < deadline, got
            show.loop.step()
            try:
                got.update(receive_messages(client, timeout=0.05, state=True))
            except TimeoutError:
                pass
        assert 1 <= got["/state/beat_in_bar"][0] <= 4 and 0.0 <= got["/state/beat"][0] < 1.0
    finally:
        show.close()
