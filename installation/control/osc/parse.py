"""OSC packets from bytes: parsing only, no sockets (tests feed byte literals here).

python-osc decodes each message (`OscMessage`); the bundle walk is ours because
python-osc's recurses without a depth limit (a 64 KB datagram of nested bundles overflows
the stack), logs on the root logger for every odd element, and its packet class converts
timetags to wall time with float rounding. Every way a packet can be bad raises
`OscParseError` with a `reason` that the receiver counts; nothing else escapes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pythonosc import osc_message, osc_message_builder, slip
from pythonosc.parsing import osc_types

# NTP timetag meaning "now" (63 zero bits and a one); 0 is sent by some tools for the same.
IMMEDIATELY = 1
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
MAX_DEPTH = 8  # nested bundles deeper than this are malformed, not a recursion error
MAX_MESSAGES = 256  # per packet: a bigger bundle is a flood in one datagram
MAX_ARGS = 64  # per message: bounds the parse cost (python-osc copies the tail per argument)
# The type tags we decode; python-osc warns on the root logger for any other.
SUPPORTED_TAGS = frozenset("ihfdsbrmtTFN[]")
_BUNDLE = b"#bundle\x00"


class OscParseError(Exception):
    """A packet that cannot be used; `reason` is a short counter name."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Message:
    address: str
    args: tuple[object, ...] = ()


@dataclass(frozen=True)
class Group:
    """Messages to apply together, at `timetag` (raw 64-bit NTP; IMMEDIATELY = now)."""

    timetag: int
    messages: tuple[Message, ...]


def ntp_to_unix(timetag: int) -> float:
    """A raw NTP timetag as seconds since 1970 (time.time()'s epoch)."""
    return (timetag >> 32) - NTP_EPOCH_OFFSET + (timetag & 0xFFFFFFFF) / 2**32


def unix_to_ntp(seconds: float) -> int:
    whole = int(seconds // 1)
    return ((whole + NTP_EPOCH_OFFSET) << 32) | int((seconds - whole) * 2**32)


def _flatten(args: list[object]) -> tuple[object, ...]:
    out: list[object] = []
    for arg in args:
        if isinstance(arg, list):
            out.extend(_flatten(arg))
        else:
            out.append(arg)
    return tuple(out)


def parse_message(data: bytes) -> Message:
    """One OSC message (address, type tags, arguments; arrays are flattened)."""
    try:
        address, index = osc_types.get_string(data, 0)
        if index < len(data):
            tags, _ = osc_types.get_string(data, index)
            if not tags.startswith(","):
                raise OscParseError("type_tag", "no leading comma")
            if len(tags) - 1 > MAX_ARGS:
                raise OscParseError("type_tag", f"{len(tags) - 1} arguments (max {MAX_ARGS})")
            unknown = set(tags[1:]) - SUPPORTED_TAGS
            if unknown:
                raise OscParseError("type_tag", f"unsupported {''.join(sorted(unknown))!r}")
        message = osc_message.OscMessage(data)
        return Message(address, _flatten(message.params))
    except UnicodeDecodeError:
        # python-osc lets this escape its own error type (and its dispatcher).
        raise OscParseError("bad_string", "not UTF-8") from None
    except (osc_types.ParseError, osc_message.ParseError, struct.error, IndexError) as exc:
        raise OscParseError("malformed", str(exc)[:80]) from None


def parse_packet(data: bytes) -> list[Group]:
    """A datagram (or one SLIP frame) as groups of messages, each group atomic.

    A plain message is one immediate group. A bundle gives one group per distinct timetag
    (nested bundles may be later than their parent, never earlier: OSC 1.0), in order.
    """
    if data.startswith(b"/"):
        return [Group(IMMEDIATELY, (parse_message(data),))]
    if not data.startswith(_BUNDLE):
        raise OscParseError("malformed", "neither a message nor a bundle")
    groups: dict[int, list[Message]] = {}
    count = 0
    # (bytes, timetag of the enclosing bundle, depth): a stack, not recursion.
    stack: list[tuple[bytes, int, int]] = [(data, IMMEDIATELY, 1)]
    while stack:
        chunk, parent, depth = stack.pop()
        if not chunk.startswith(_BUNDLE):
            groups.setdefault(parent, []).append(parse_message(chunk))
            continue
        if depth > MAX_DEPTH:
            raise OscParseError("bundle", f"nested deeper than {MAX_DEPTH}")
        if len(chunk) < 16:
            raise OscParseError("bundle", "truncated header")
        (tag,) = struct.unpack_from(">Q", chunk, 8)
        if tag in (0, IMMEDIATELY):
            tag = parent
        elif parent != IMMEDIATELY:
            tag = max(tag, parent)
        index, children = 16, []
        while index < len(chunk):
            if index + 4 > len(chunk):
                raise OscParseError("bundle", "truncated element size")
            (size,) = struct.unpack_from(">i", chunk, index)
            index += 4
            if size <= 0 or size % 4 or index + size > len(chunk):
                raise OscParseError("bundle", f"bad element size {size}")
            children.append(chunk[index : index + size])
            index += size
        # Reversed onto the stack, so elements are applied in the order they were sent.
        for child in reversed(children):
            if child.startswith(_BUNDLE):
                stack.append((child, tag, depth + 1))
            elif child.startswith(b"/"):
                count += 1
                if count > MAX_MESSAGES:
                    raise OscParseError("bundle", f"more than {MAX_MESSAGES} messages")
                stack.append((child, tag, depth))
            else:
                raise OscParseError("bundle", "element is neither a message nor a bundle")
    return [Group(tag, tuple(msgs)) for tag, msgs in groups.items()]


def encode_message(address: str, args: tuple[object, ...] | list[object] = ()) -> bytes:
    """An OSC message as bytes (bool -> T/F, int -> i, float -> f, str -> s)."""
    builder = osc_message_builder.OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def encode_bundle(messages: list[bytes], timetag: int = IMMEDIATELY) -> bytes:
    """Encoded messages (or bundles) in one bundle with a raw NTP timetag."""
    body = b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return _BUNDLE + struct.pack(">Q", timetag) + body


class SlipDecoder:
    """Frames from a TCP byte stream with SLIP framing (OSC 1.1), fed in any chunks.

    Yields each frame's bytes, or an OscParseError for a bad escape or a frame over
    `max_frame` (its bytes are skipped up to the next END, so the stream recovers).
    """

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes | OscParseError]:
        self._buf += data
        frames: list[bytes | OscParseError] = []
        while True:
            end = self._buf.find(slip.END)
            if end < 0:
                break
            raw = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self._overflow:
                self._overflow = False
                frames.append(OscParseError("oversize", "SLIP frame"))
            elif raw:
                try:
                    frames.append(slip.decode(raw))
                except slip.ProtocolError:
                    frames.append(OscParseError("malformed", "bad SLIP escape"))
        if len(self._buf) > 2 * self.max_frame:  # escaped bytes count double at most
            self._buf.clear()
            self._overflow = True
        return frames


class LengthPrefixDecoder:
    """Frames from a TCP byte stream with OSC 1.0's framing: a 32-bit big-endian size, then
    the packet (liblo's default for osc.tcp://). A size that is not a multiple of 4, zero,
    or over `max_frame` cannot be resynchronised: `broken` is set and the connection must
    be closed (the error says why, and is counted)."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self.broken = False
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes | OscParseError]:
        if self.broken:
            return []
        self._buf += data
        frames: list[bytes | OscParseError] = []
        while len(self._buf) >= 4:
            (size,) = struct.unpack_from(">I", self._buf, 0)
            if size > self.max_frame:
                self.broken = True
                frames.append(OscParseError("oversize", f"TCP frame of {size} bytes"))
                break
            if size == 0 or size % 4:
                self.broken = True
                frames.append(OscParseError("framing", f"TCP frame size {size} (mixed framings?)"))
                break
            if len(self._buf) < 4 + size:
                break
            frames.append(bytes(self._buf[4 : 4 + size]))
            del self._buf[: 4 + size]
        return frames


def tcp_decoder(first_byte: int, max_frame: int) -> SlipDecoder | LengthPrefixDecoder | None:
    """The framing a TCP client uses, from its first byte: SLIP (OSC 1.1) starts with END or
    with the packet itself ('/' or '#'); a size prefix starts with 0 (sizes < 16 MB).
    None for anything else (counted as `framing` and the connection closed)."""
    if first_byte in (0xC0, ord("/"), ord("#")):
        return SlipDecoder(max_frame)
    if first_byte == 0:
        return LengthPrefixDecoder(max_frame)
    return None


def frame_for_tcp(data: bytes, framing: str) -> bytes:
    """A packet framed for a TCP stream: "slip" (OSC 1.1) or "size" (OSC 1.0's prefix)."""
    return slip.encode(data) if framing == "slip" else struct.pack(">I", len(data)) + data
