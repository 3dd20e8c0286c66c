"""OSC parsing from byte literals: no sockets here."""

from __future__ import annotations

import struct

import pytest

from installation.control.osc.parse import (
    IMMEDIATELY,
    MAX_DEPTH,
    Group,
    Message,
    OscParseError,
    SlipDecoder,
    encode_bundle,
    encode_message,
    ntp_to_unix,
    parse_packet,
    unix_to_ntp,
)

SPEED = b"/walk/speed\x00,f\x00\x00" + struct.pack(">f", 0.5)


def reason(data: bytes) -> str:
    with pytest.raises(OscParseError) as info:
        parse_packet(data)
    return info.value.reason


def test_a_message_from_bytes() -> None:
    assert parse_packet(SPEED) == [Group(IMMEDIATELY, (Message("/walk/speed", (0.5,)),))]
    (group,) = parse_packet(b"/screenshot\x00")
    assert group.messages == (Message("/screenshot", ()),)


def test_int_float_bool_string_and_multi_argument_messages() -> None:
    data = b"/xy\x00,ifTFs\x00\x00" + struct.pack(">i", 7) + struct.pack(">f", 0.25) + b"hi\x00\x00"
    (group,) = parse_packet(data)
    assert group.messages[0].args == (7, 0.25, True, False, "hi")
    # Arrays are flattened into the argument list.
    (group,) = parse_packet(b"/a\x00\x00,[ii]\x00\x00\x00" + struct.pack(">ii", 1, 2))
    assert group.messages[0].args == (1, 2)


def test_non_utf8_strings_are_a_counted_error_not_an_escape() -> None:
    assert reason(b"/walk/\xff\xfe\x00\x00\x00\x00") == "bad_string"
    assert reason(b"/a\x00\x00,s\x00\x00\xc3\x28\x00\x00") == "bad_string"


def test_truncated_packets() -> None:
    assert reason(b"/a\x00\x00,d\x00\x00" + b"\x00" * 4) == "malformed"  # half a double
    assert reason(b"/a\x00\x00,i\x00\x00\x00\x01") == "malformed"
    assert reason(b"/a\x00\x00,s\x00\x00abc") == "malformed"
    assert reason(b"/abc") == "malformed"
    assert reason(b"") == "malformed"
    assert reason(b"#bundle\x00\x00\x00") == "bundle"


def test_wrong_type_tags() -> None:
    assert reason(b"/a\x00\x00f\x00\x00\x00") == "type_tag"  # no comma
    assert reason(b"/a\x00\x00,Q\x00\x00") == "type_tag"
    assert reason(b"/a\x00\x00," + b"i" * 100 + b"\x00" * 3 + b"\x00" * 400) == "type_tag"
    assert reason(b"/a\x00\x00,]\x00\x00") == "malformed"


def test_bundles_group_by_timetag_and_keep_order() -> None:
    later = unix_to_ntp(2_000_000_000.5)
    data = encode_bundle(
        [
            encode_message("/a", [1]),
            encode_bundle([encode_message("/b", [2])], later),
            encode_message("/c", [3]),
        ]
    )
    groups = parse_packet(data)
    assert [(g.timetag, [m.address for m in g.messages]) for g in groups] == [
        (IMMEDIATELY, ["/a", "/c"]),
        (later, ["/b"]),
    ]
    assert ntp_to_unix(later) == pytest.approx(2_000_000_000.5)


def test_a_nested_bundle_is_never_earlier_than_its_parent() -> None:
    early, late = unix_to_ntp(1_000), unix_to_ntp(2_000)
    data = encode_bundle([encode_bundle([encode_message("/a")], early)], late)
    assert parse_packet(data)[0].timetag == late


def test_nested_and_malformed_bundles() -> None:
    inner = encode_message("/a")
    for _ in range(MAX_DEPTH - 1):
        inner = encode_bundle([inner])
    assert parse_packet(encode_bundle([inner]))[0].messages == (Message("/a"),)
    assert reason(encode_bundle([encode_bundle([inner])])) == "bundle"
    # 64 KB of nesting: python-osc's recursive walk would overflow; ours refuses early.
    deep = encode_message("/a")
    while len(deep) < 65000:
        deep = encode_bundle([deep])
    assert reason(deep) == "bundle"
    header = b"#bundle\x00" + struct.pack(">Q", 1)
    assert reason(header + struct.pack(">i", 400) + b"/a\x00\x00") == "bundle"  # size past the end
    assert reason(header + struct.pack(">i", -4) + b"/a\x00\x00") == "bundle"
    assert reason(header + struct.pack(">i", 4) + b"xyz\x00") == "bundle"
    assert reason(header + struct.pack(">i", 8) + b"/a\x00\x00,\xff\x00\x00") == "bad_string"
    assert parse_packet(header) == []  # an empty bundle is legal and does nothing


def test_too_many_messages_in_one_bundle() -> None:
    assert reason(encode_bundle([encode_message("/a")] * 300)) == "bundle"


def test_slip_frames_from_a_stream_in_any_chunks() -> None:
    from pythonosc import slip

    stream = slip.encode(SPEED) + slip.encode(b"/a\x00\x00") + slip.encode(b"\xc0\xdb/x")
    decoder = SlipDecoder(1024)
    frames = []
    for i in range(0, len(stream), 3):
        frames += decoder.feed(stream[i : i + 3])
    assert frames == [SPEED, b"/a\x00\x00", b"\xc0\xdb/x"]
    bad = decoder.feed(b"\xc0\xdb\x01\xc0")
    assert isinstance(bad[0], OscParseError) and bad[0].reason == "malformed"
    # A frame that never ends is dropped once it passes the limit; the stream recovers.
    small = SlipDecoder(64)
    assert small.feed(b"x" * 200) == []
    out = small.feed(b"tail\xc0" + slip.encode(b"/a\x00\x00"))
    assert isinstance(out[0], OscParseError) and out[0].reason == "oversize"
    assert out[1] == b"/a\x00\x00"
