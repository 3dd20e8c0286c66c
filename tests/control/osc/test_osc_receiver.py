"""The receiver pipeline and the loop-side scheduler, fed bytes with injected clocks."""

from __future__ import annotations

import logging

import pytest

from installation.control.osc.config import OscConfig, OscMapping
from installation.control.osc.parse import encode_bundle, encode_message, parse_packet, unix_to_ntp
from installation.control.osc.receiver import REASONS, Receiver
from installation.control.osc.schedule import Scheduler
from installation.control.osc.space import AddressSpace
from installation.events import ControlEvent
from installation.params import REGISTRY

LOCAL = ("127.0.0.1", 5000)
WALL0 = 1_800_000_000.0


class Clocks:
    def __init__(self) -> None:
        self.t = 100.0

    def mono(self) -> float:
        return self.t

    def wall(self) -> float:
        return WALL0 + (self.t - 100.0)


def make(**config) -> tuple[Receiver, Clocks]:
    clocks = Clocks()
    cfg = OscConfig(**config)
    return Receiver(
        AddressSpace(REGISTRY, cfg.mappings), cfg, monotonic=clocks.mono, wall=clocks.wall
    ), clocks


def drain(receiver: Receiver) -> list:
    return receiver.events.drain()


def test_a_message_becomes_one_event_with_its_source() -> None:
    receiver, _ = make()
    assert receiver.handle(encode_message("/walk/speed", [0.5]), LOCAL) == []
    (event,) = drain(receiver)
    assert isinstance(event, ControlEvent) and event.due is None
    assert event.target == "walk.speed"
    assert event.source == "osc:127.0.0.1:5000"


def test_each_bad_input_is_dropped_and_counted_by_reason() -> None:
    receiver, _ = make(allow=["127.0.0.0/8"], max_packet=1024)
    cases = {
        "not_allowed": (encode_message("/walk/speed", [1.0]), ("192.168.1.9", 1)),
        "oversize": (encode_message("/walk/speed", ["x" * 2000]), LOCAL),
        "malformed": (b"garbage", LOCAL),
        "bad_string": (b"/\xff\x00\x00", LOCAL),
        "type_tag": (b"/a\x00\x00,Z\x00\x00", LOCAL),
        "bundle": (b"#bundle\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x04", LOCAL),
        "pattern": (encode_message("/[abc", [1]), LOCAL),
        "unknown_address": (encode_message("/nope", [1]), LOCAL),
        "bad_args": (encode_message("/walk/speed", ["fast"]), LOCAL),
    }
    for expected, (data, sender) in cases.items():
        before = receiver.dropped_by_reason()
        receiver.handle(data, sender)
        after = receiver.dropped_by_reason()
        assert {k for k in REASONS if after[k] != before[k]} == {expected}, expected
    assert drain(receiver) == []
    assert receiver.counters["packets"] == len(cases)


def test_ipv4_mapped_ipv6_senders_follow_the_ipv4_rules() -> None:
    receiver, _ = make(allow=["127.0.0.0/8"])
    receiver.handle(encode_message("/walk/speed", [1.0]), ("::ffff:127.0.0.1", 1, 0, 0))
    receiver.handle(encode_message("/walk/speed", [1.0]), ("::ffff:10.0.0.1", 1, 0, 0))
    assert len(drain(receiver)) == 1 and receiver.counters["not_allowed"] == 1


def test_a_flood_from_one_source_is_rate_limited_per_source() -> None:
    receiver, clocks = make(rate_limit=100, burst=10)
    message = encode_message("/walk/speed", [0.1])
    for _ in range(50):
        receiver.handle(message, LOCAL)
    assert receiver.counters["rate_limited"] == 40
    receiver.handle(message, ("127.0.0.2", 1))  # another sender is not punished
    assert receiver.counters["rate_limited"] == 40
    clocks.t += 0.0501  # 5 tokens back
    for _ in range(10):
        receiver.handle(message, LOCAL)
    assert receiver.counters["rate_limited"] == 45


def test_the_queue_is_bounded() -> None:
    receiver, _ = make(queue=16, rate_limit=0)
    for _ in range(40):
        receiver.handle(encode_message("/walk/speed", [0.1]), LOCAL)
    assert len(receiver.events) == 16
    assert receiver.counters["queue_full"] == 24


def test_timetags_in_the_future_are_scheduled_and_absurd_ones_clamped() -> None:
    receiver, clocks = make(max_delay=5.0)
    receiver.handle(
        encode_bundle([encode_message("/walk/speed", [1.0])], unix_to_ntp(WALL0 + 0.5)), LOCAL
    )
    receiver.handle(
        encode_bundle([encode_message("/walk/speed", [1.0])], unix_to_ntp(WALL0 + 86400 * 365)),
        LOCAL,
    )
    receiver.handle(
        encode_bundle([encode_message("/walk/speed", [1.0])], unix_to_ntp(WALL0 - 3600)), LOCAL
    )
    receiver.handle(
        encode_bundle([encode_message("/walk/speed", [1.0])], unix_to_ntp(WALL0 - 0.2)), LOCAL
    )
    soon, far, past, recent = drain(receiver)
    assert soon.due == pytest.approx(clocks.t + 0.5)
    assert far.due == pytest.approx(clocks.t + 5.0)
    assert past.due is None and recent.due is None
    assert receiver.counters["timetag_clamped"] == 2


def test_status_reply_carries_loop_status_and_drop_counters() -> None:
    receiver, _ = make()
    receiver.status = {
        "fps": 59.9,
        "frame": 120,
        "model": "tiny",
        "version": 42,
        "uptime": 2.0,
        "device": "cpu",
        "error": "",
    }
    receiver.handle(b"garbage", LOCAL)
    ((reply, to),) = receiver.handle(encode_message("/status"), LOCAL)
    assert to == LOCAL
    got = {m.address: m.args for g in parse_packet(reply) for m in g.messages}
    assert got["/status/osc/timetag_clamped"] == (0,)  # documented, so readable
    assert got["/state/version"] == (42,)
    assert got["/status/fps"] == (pytest.approx(59.9),)
    assert got["/status/version"] == (42,)
    assert got["/status/osc/dropped/malformed"] == (1,)
    assert got["/status/osc/dropped"] == (1,)
    assert set(REASONS) <= {
        a.rsplit("/", 1)[1] for a in got if a.startswith("/status/osc/dropped/")
    }


def test_drops_are_logged_as_one_summary_at_most_once_a_second(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver, clocks = make(rate_limit=0)
    caplog.set_level(logging.WARNING, logger="installation.control.osc.receiver")
    for _ in range(500):
        receiver.handle(b"garbage", LOCAL)
        receiver.handle(encode_message("/nope"), LOCAL)
        assert receiver.log_summary() is None  # not yet a second
    clocks.t += 1.0
    line = receiver.log_summary()
    assert line is not None and "dropped 1000" in line and "malformed 500" in line
    assert receiver.log_summary() is None  # nothing new
    clocks.t += 5.0
    assert receiver.log_summary() is None
    assert len(caplog.records) == 1


# -- the scheduler: the render loop's side -------------------------------------------------
def test_scheduled_bundles_wait_for_the_first_frame_at_or_after_their_time() -> None:
    receiver, clocks = make()
    scheduler = Scheduler(REGISTRY)
    bundle = encode_bundle(
        [encode_message("/walk/speed", [1.0]), encode_message("/walk/paused", [1])],
        unix_to_ntp(WALL0 + 0.1),
    )
    receiver.handle(bundle, LOCAL)
    targets = REGISTRY.initial_values()
    assert scheduler(drain(receiver), targets, 100.05) == []
    keyboard = ControlEvent("hud.visible", 1.0)
    out = scheduler([keyboard], targets, 100.1)
    assert out[0] is keyboard
    assert [e.target for e in out[1:]] == ["walk.speed", "walk.paused"]  # together, in order
    assert scheduler([], targets, 100.2) == []


def test_mapping_smoothing_glides_and_a_direct_change_stops_it() -> None:
    receiver, _ = make(
        mappings=[OscMapping(address="/fader", target="output.brightness", smoothing=0.5)]
    )
    scheduler = Scheduler(REGISTRY)
    targets = dict(REGISTRY.initial_values(), **{"output.brightness": 1.0})
    receiver.handle(encode_message("/fader", [0.0]), LOCAL)
    values = []
    t = 0.0
    for _ in range(600):
        t += 1 / 60
        out = scheduler(drain(receiver), targets, t)
        if out:
            targets["output.brightness"] = out[-1].value
            values.append(out[-1].value)
    assert values[0] > 0.9 and values == sorted(values, reverse=True) and values[-1] == 0.0
    receiver.handle(encode_message("/fader", [1.0]), LOCAL)
    gliding = scheduler(drain(receiver), targets, t + 0.1)
    assert len(gliding) == 1 and 0.0 < gliding[0].value < 1.0
    direct = ControlEvent("output.brightness", 0.3)
    assert scheduler([direct], targets, t + 0.2) == [direct]  # the glide stopped
    assert scheduler([], targets, t + 0.3) == []


def test_a_loop_on_another_clock_never_waits_longer_than_max_delay() -> None:
    receiver, _ = make(max_delay=2.0)
    scheduler = Scheduler(REGISTRY, max_delay=2.0)
    receiver.handle(
        encode_bundle([encode_message("/walk/speed", [1.0])], unix_to_ntp(WALL0 + 1.0)), LOCAL
    )
    targets = REGISTRY.initial_values()
    # A fixed-step clock starts at 0, far from the monotonic time the receiver stamped.
    assert scheduler(drain(receiver), targets, 0.0) == []
    assert scheduler([], targets, 1.9) == []
    assert [e.target for e in scheduler([], targets, 2.0)] == ["walk.speed"]


def test_status_reply_carries_each_video_outputs_counters() -> None:
    receiver, _ = make()
    out = {"sent": 10, "dropped": 3, "failures": 1, "state": "running", "name": "HOST (stage)"}
    receiver.status = {"fps": 60.0, "outputs": {"ndi:main stage": out, "file:take.mp4": out}}
    ((reply, _to),) = receiver.handle(encode_message("/status"), LOCAL)
    got = {m.address: m.args for g in parse_packet(reply) for m in g.messages}
    assert got["/status/outputs/ndi:main_stage/dropped"] == (3,)  # a space is no OSC address
    assert got["/status/outputs/ndi:main_stage/sent"] == (10,)
    assert got["/status/outputs/file:take.mp4/failures"] == (1,)
    assert got["/status/outputs/file:take.mp4/state"] == ("running",)
