"""What happens to one received packet, apart from sockets (tests and the fuzzer call it).

allow-list -> per-source rate limit -> size -> parse -> resolve addresses -> ControlEvents
on the render loop's bounded event queue, the same one every input source uses (a bundle's
events carry its timetag as `due`; the loop's scheduler holds them until then). Every packet that is not used is
dropped and counted by reason; the counters feed /status, the HUD and a log summary of at
most one line a second. Only the network thread calls `handle` and touches `counters`;
it `publish`es an immutable snapshot of them for other threads (HUD).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from installation.control.osc.config import OscConfig
from installation.control.osc.parse import (
    IMMEDIATELY,
    OscParseError,
    encode_bundle,
    encode_message,
    ntp_to_unix,
    parse_packet,
)
from installation.control.osc.space import STATUS, AddressSpace
from installation.control.osc.state import state_messages
from installation.events import ControlEvent, EventQueue

log = logging.getLogger(__name__)

# Why a packet (or message) was dropped; the order is the order shown in /status and logs.
REASONS: tuple[str, ...] = (
    "not_allowed",
    "rate_limited",
    "oversize",
    "malformed",
    "bad_string",
    "type_tag",
    "bundle",
    "pattern",
    "unknown_address",
    "bad_args",
    "queue_full",
    "framing",
    "internal",
)
MAX_SOURCES = 1024  # rate-limit buckets and allow-list answers kept; oldest forgotten
# Counted apart from the drop reasons: the message was used, a part of it was refused.
OTHER_COUNTERS = ("timetag_clamped", "status_refused")
Destination = tuple[str, int]


class AllowList:
    """Whether a host may talk to the show (`osc.allow`), with a bounded cache of answers.
    One per thread that asks: the cache is not shared."""

    def __init__(self, networks: list[str]) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self._allowed: OrderedDict[str, bool] = OrderedDict()

    def __call__(self, host: str) -> bool:
        known = self._allowed.get(host)
        if known is None:
            try:
                ip = ipaddress.ip_address(host.split("%")[0])
                if ip.version == 6 and ip.ipv4_mapped is not None:
                    ip = ip.ipv4_mapped
                known = any(ip in net for net in self._networks if net.version == ip.version)
            except ValueError:
                known = False
            self._allowed[host] = known
            if len(self._allowed) > MAX_SOURCES:
                self._allowed.popitem(last=False)
        return known


class Receiver:
    def __init__(
        self,
        space: AddressSpace,
        config: OscConfig,
        events: EventQueue | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.space, self.config = space, config
        self.monotonic, self.wall = monotonic, wall
        # The loop's queue in a show; a receiver of its own (tests, the fuzzer) gets one.
        self.events = events if events is not None else EventQueue(config.queue)
        self.counters: dict[str, int] = dict.fromkeys(
            ("packets", "messages", *OTHER_COUNTERS, *REASONS), 0
        )
        # What other threads read: a copy of the counters, replaced whole by `publish`.
        self.published: Mapping[str, int] = MappingProxyType(dict(self.counters))
        # The latest status from the render loop, replaced whole (never mutated).
        self.status: Mapping[str, object] = MappingProxyType({})
        self.allows = AllowList(config.allow)
        # Where else a /status reply goes (the feedback clients), set by the server.
        self.status_also: tuple[Destination, ...] = ()
        # Extra counters for the /status reply (TCP, OSCQuery), {group: {name: count}}.
        self.extra_counters: Callable[[], Mapping[str, Mapping[str, int]]] = dict
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        self._logged_at = monotonic()
        self._logged_counts = self.dropped_by_reason()
        self._last_drop = ""

    # -- the pipeline --------------------------------------------------------------------
    def handle(self, data: bytes, sender: tuple[str, int]) -> list[tuple[bytes, Destination]]:
        """Take one packet from `sender` (host, port); return replies and where to send them."""
        self.counters["packets"] += 1
        host, port = sender[0], sender[1]
        received = self.monotonic()
        if not self.allows(host):
            return self._drop("not_allowed", host)
        if not self._take_token(host, received):
            return self._drop("rate_limited", host)
        if len(data) > self.config.max_packet:
            return self._drop("oversize", f"{len(data)} bytes from {host}")
        try:
            groups = parse_packet(data)
        except OscParseError as exc:
            return self._drop(exc.reason, f"{exc.detail} from {host}")
        except RecursionError:  # belt and braces: parse_packet walks bundles without recursion
            return self._drop("bundle", f"too deep from {host}")
        source = f"osc:{host}:{port}"
        wall_now = self.wall()
        status: set[Destination] = set()
        for group in groups:
            items: list[ControlEvent] = []
            for message in group.messages:
                self.counters["messages"] += 1
                try:
                    resolved, asked = self.space.resolve(message, source, received)
                except OscParseError as exc:
                    self._drop(exc.reason, f"{exc.detail} from {host}")
                    continue
                items.extend(resolved)
                if asked:
                    status.add(
                        self._reply_to(
                            message.args if message.address == STATUS else (), (host, port)
                        )
                    )
            if items:
                self._enqueue(items, self._due(group.timetag, received, wall_now))
        if not status:
            return []
        reply = self.status_reply()
        return [(reply, to) for to in sorted(status | set(self.status_also))]

    def _reply_to(self, args: tuple[object, ...], sender: Destination) -> Destination:
        """Where a /status reply goes: `/status i PORT` or `/status s HOST:PORT` (Max's
        udpsend and TouchDesigner send from a port they do not listen on), else the sender.
        A port outside 1..65535 or a host the allow-list refuses (the show must not be a
        reflector aimed at someone else) is counted, and the reply goes to the sender."""
        if not args:
            return sender
        host, port = sender[0], None
        arg = args[0]
        if isinstance(arg, int) and not isinstance(arg, bool):
            port = arg
        elif isinstance(arg, str):
            text = arg.strip()
            name, sep, tail = text.rpartition(":")
            if sep:
                host = name.strip("[]") or host
            try:
                port = int(tail if sep else text)
            except ValueError:
                port = None
        if port is None or not 1 <= port <= 65535 or not self.allows(host):
            self.counters["status_refused"] += 1
            self._last_drop = f"status reply to {arg!r} refused (from {sender[0]})"
            return sender
        return (host, port)

    def _enqueue(self, items: list[ControlEvent], due: float | None) -> None:
        """A bundle's events, in order, all due at once (a full queue drops and counts it)."""
        full = False
        for event in items:
            full = not self.events.put(event if due is None else replace(event, due=due)) or full
        if full:
            self._drop("queue_full", "the render loop is not draining")

    def _due(self, timetag: int, received: float, wall_now: float) -> float | None:
        """A timetag as a time on the loop's clock; far future or past is clamped."""
        if timetag == IMMEDIATELY:
            return None
        delay = ntp_to_unix(timetag) - wall_now
        limit = self.config.max_delay
        if delay > limit or delay < -max(limit, 60.0):
            # A sender whose clock is off (or a fuzzer) must not park events for hours.
            self.counters["timetag_clamped"] += 1
            delay = min(delay, limit)
        return received + delay if delay > 0 else None

    def _take_token(self, host: str, now: float) -> bool:
        """A token bucket per sender address: `rate_limit` packets/s, `burst` at once."""
        rate = self.config.rate_limit
        if rate <= 0:
            return True
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = self._buckets[host] = [float(self.config.burst), now]
            if len(self._buckets) > MAX_SOURCES:
                self._buckets.popitem(last=False)
        tokens = min(float(self.config.burst), bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True

    def _drop(self, reason: str, detail: str) -> list[bytes]:
        self.counters[reason] += 1
        self._last_drop = f"{reason}: {detail}"
        return []

    # -- reporting -----------------------------------------------------------------------
    def publish(self) -> None:
        if self.published != self.counters:
            self.published = MappingProxyType(dict(self.counters))

    def dropped_by_reason(self, counters: Mapping[str, int] | None = None) -> dict[str, int]:
        counters = self.counters if counters is None else counters
        return {reason: counters[reason] for reason in REASONS}

    def summary(self, counters: Mapping[str, int] | None = None) -> str:
        """One line for the HUD (from `published` when called off the network thread)."""
        counters = self.counters if counters is None else counters
        drops = {k: v for k, v in self.dropped_by_reason(counters).items() if v}
        text = f"osc {counters['packets']} packets"
        if drops:
            text += f"  dropped {sum(drops.values())}: " + ", ".join(
                f"{k} {v}" for k, v in drops.items()
            )
        return text

    def log_summary(self, now: float | None = None) -> str | None:
        """At most once a second, one warning line with what was dropped since the last."""
        now = self.monotonic() if now is None else now
        if now - self._logged_at < 1.0:
            return None
        counts = self.dropped_by_reason()
        new = {
            k: counts[k] - self._logged_counts[k]
            for k in REASONS
            if counts[k] > self._logged_counts[k]
        }
        if not new:
            return None
        line = (
            f"osc: dropped {sum(new.values())} in the last {now - self._logged_at:.1f} s ("
            + ", ".join(f"{k} {v}" for k, v in new.items())
            + f"); last: {self._last_drop}"
        )
        self._logged_at, self._logged_counts = now, counts
        log.warning("%s", line)
        return line

    def status_reply(self) -> bytes:
        """/status/... messages in one bundle: the loop's status and the drop counters."""
        status = dict(self.status)
        messages = []
        for key, kind in (
            ("fps", float),
            ("frame", int),
            ("model", str),
            ("version", int),
            ("step", int),
            ("uptime", float),
            ("device", str),
            ("error", str),
        ):
            if key in status and status[key] is not None:
                messages.append(encode_message(f"/status/{key}", [kind(status[key])]))
        for label, out in dict(
            status.get("outputs") or {}
        ).items():  # video outputs (render/outputs/)
            where = "/status/outputs/" + re.sub(r"[^A-Za-z0-9._:-]", "_", label)
            messages += [
                encode_message(f"{where}/{k}", [int(out[k])])
                for k in ("sent", "dropped", "failures")
            ]
            messages.append(encode_message(f"{where}/state", [str(out["state"])]))
        drops = self.dropped_by_reason()
        messages.append(encode_message("/status/osc/packets", [self.counters["packets"]]))
        messages.append(encode_message("/status/osc/dropped", [sum(drops.values())]))
        for reason, count in drops.items():
            messages.append(encode_message(f"/status/osc/dropped/{reason}", [count]))
        for name in OTHER_COUNTERS:  # every counter the docs name is readable here
            messages.append(encode_message(f"/status/osc/{name}", [self.counters[name]]))
        for group, counts in self.extra_counters().items():
            for name, count in counts.items():
                messages.append(encode_message(f"/status/{group}/{name}", [int(count)]))
        for address, value in state_messages(status):
            messages.append(encode_message(address, [value]))
        return encode_bundle(messages)
