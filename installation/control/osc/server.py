"""The OSC service: sockets and threads around the receiver, the scheduler and OSCQuery.

One network thread owns every OSC socket: it receives UDP datagrams and TCP streams (SLIP
or size-prefixed, tcp.py) on the same port, hands each packet to `Receiver.handle` (which
only parses and queues), answers /status, and sends feedback and the show's state
(`/state/...`) to the configured clients. It never sleeps on a timetag and never touches
render-loop state: the loop reaches it only through `LoopHooks` (the scheduler as a
mapper, feedback and status callbacks that queue or swap immutable snapshots, and a HUD
line). OSCQuery (HTTP and LISTEN) has its own thread (oscquery.py, http.py).
"""

from __future__ import annotations

import errno
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from installation.control.osc.config import FeedbackClient, OscConfig
from installation.control.osc.oscquery import OscQueryServer
from installation.control.osc.parse import encode_bundle, encode_message
from installation.control.osc.receiver import OTHER_COUNTERS, AllowList, Destination, Receiver
from installation.control.osc.schedule import Scheduler
from installation.control.osc.space import AddressSpace
from installation.control.osc.state import state_messages
from installation.control.osc.tcp import TcpClients
from installation.events import ControlEvent, EventQueue
from installation.params import Registry
from installation.web.http import HttpLimits

if TYPE_CHECKING:
    from installation.config.show import Show
    from installation.stats import StatsWriter

log = logging.getLogger(__name__)

UDP_BURST = 512  # datagrams read per wake-up, so a flood cannot starve feedback and TCP


@dataclass(frozen=True)
class FeedbackUpdate:
    """Targets that changed in one frame and, per target, who changed it."""

    values: tuple[tuple[str, float], ...]
    sources: Mapping[str, str]


LOCAL_HOSTS = ("127.", "::1", "0.0.0.0", "::")


def _is_sender(client: FeedbackClient, source: str | None, show_host: str = "") -> bool:
    """Whether `source` (the event's "osc:HOST:PORT") is this feedback client itself."""
    if client.echo_guard == "none" or not source or not source.startswith("osc:"):
        return False
    host, _, port = source[4:].rpartition(":")
    if host != client.host:
        return False
    ports = {str(client.port)} | ({str(client.send_port)} if client.send_port else set())
    # Every program on this machine shares a loopback host: matching on it alone would
    # silence feedback to every local client (a test rig, a second controller).
    local = client.host.startswith(LOCAL_HOSTS) or client.host == show_host
    return port in ports or (client.echo_guard == "host" and not local)


def feedback_arg(client: FeedbackClient, arg: object) -> object:
    """A value as this client wants it: booleans as int 0/1 (default), float, or T/F."""
    if isinstance(arg, bool) and client.bools != "TF":
        return float(arg) if client.bools == "float" else int(arg)
    return arg


def bind_hint(exc: OSError) -> str:
    """What to change in show.yaml when a socket cannot be bound: the port or the host."""
    if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return (
            "set osc.host to an address of this machine (127.0.0.1 for this machine only, "
            "0.0.0.0 for every network)"
        )
    if exc.errno == errno.EACCES:
        return "ports below 1024 need privileges: set osc.port to 1024 or above"
    return "set osc.port (another program may be using it)"


class OscServer:
    def __init__(
        self,
        config: OscConfig,
        registry: Registry,
        stats: StatsWriter | None = None,
        events: EventQueue | None = None,
    ) -> None:
        self.config, self.registry, self.stats = config, registry, stats
        self.space = AddressSpace(registry, config.mappings)
        self.receiver = Receiver(self.space, config, events)  # events: the loop's queue in a show
        self.scheduler = Scheduler(registry, config.queue, config.max_delay)
        self.address: tuple[str, int] | None = None  # bound (host, port) once listening
        self.error: str | None = None
        self.oscquery: OscQueryServer | None = None
        # Written by the main thread (replaced whole), read by OSCQuery's threads.
        self._values: Mapping[str, float] = MappingProxyType(registry.initial_values())
        self._updates: queue.Queue[FeedbackUpdate] = queue.Queue(maxsize=256)
        self._states: queue.Queue[tuple[tuple[str, object], ...]] = queue.Queue(maxsize=4)
        self._pending: dict[tuple[int, str], object] = {}
        self._sent_at: dict[tuple[int, str], float] = {}
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._selector = selectors.DefaultSelector()
        self.tcp = TcpClients(self._selector, self.receiver, config, self._send_udp)
        self._status: Mapping[str, object] = MappingProxyType({})
        self._state_sent = float("-inf")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Bind and start; a port that cannot be bound is logged, never fatal (the show
        plays on without remote control rather than not at all)."""
        c = self.config
        family = socket.AF_INET6 if ":" in c.host else socket.AF_INET
        try:
            self._udp = socket.socket(family, socket.SOCK_DGRAM)
            self._udp.bind((c.host, c.port))
            self._udp.setblocking(False)
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            port = self._udp.getsockname()[1]
            if c.tcp:
                self._tcp = socket.socket(family, socket.SOCK_STREAM)
                self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self._tcp.bind((c.host, port))
                self._tcp.listen(64)
                self._tcp.setblocking(False)
        except OSError as exc:
            self.error = (
                f"osc: cannot listen on {c.host}:{c.port} ({exc.strerror or exc}); {bind_hint(exc)}"
            )
            log.error("%s; the show plays on without OSC", self.error)
            self._close_sockets()
            return
        self.address = (c.host, port)
        self._selector.register(self._udp, selectors.EVENT_READ, "udp")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        if self._tcp is not None:
            self._selector.register(self._tcp, selectors.EVENT_READ, "listen")
        self.receiver.status_also = tuple((f.host, f.port) for f in c.feedback)
        self.receiver.extra_counters = self._extra_counters
        self._thread = threading.Thread(target=self._run, name="osc", daemon=True)
        self._thread.start()
        log.info(
            "OSC on %s:%d (UDP%s)",
            c.host,
            port,
            " + TCP, SLIP or size-prefixed" if self._tcp else "",
        )
        if self.stats is not None:
            self.stats.event(
                "osc_listening",
                t=time.monotonic(),
                host=c.host,
                port=port,
                tcp=self._tcp is not None,
            )
        q = c.oscquery
        if q.enabled:
            self.oscquery = OscQueryServer(
                self.space,
                lambda: self._values,
                host=c.host,
                port=q.port,
                osc_port=port,
                osc_tcp=self._tcp is not None,
                name=q.name,
                zeroconf=q.zeroconf,
                status=lambda: self._status,
                allows=AllowList(c.allow),
                limits=HttpLimits(
                    max_connections=q.max_connections,
                    header_timeout=q.header_timeout,
                    idle_timeout=q.idle_timeout,
                ),
            )
            try:
                self.oscquery.start()
            except OSError as exc:
                log.error(
                    "OSCQuery: cannot listen on %s:%d (%s); OSC still works", c.host, q.port, exc
                )
                self.oscquery = None

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.oscquery is not None:
            self.oscquery.stop()
            self.oscquery = None
        self._close_sockets()

    def _close_sockets(self) -> None:
        self.tcp.close_all()
        for sock in [self._udp, self._tcp]:
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- main-thread callbacks: they only swap snapshots or queue ------------------------
    def on_feedback(self, changed: dict[str, float], events: list[ControlEvent]) -> None:
        if not changed:
            return
        self._values = MappingProxyType({**self._values, **changed})
        if self.oscquery is not None:
            self.oscquery.notify(
                [
                    pair
                    for target, value in changed.items()
                    for pair in self.space.feedback(target, value)
                ]
            )
        if not self.config.feedback or self.address is None:
            return
        sources = {e.target: e.source for e in events if e.target in changed}
        try:
            self._updates.put_nowait(
                FeedbackUpdate(tuple(changed.items()), MappingProxyType(sources))
            )
        except queue.Full:
            return  # the network thread is behind; the next change carries the latest values
        self._wake()

    def on_status(self, status: dict[str, object]) -> None:
        """The loop's status (a few times a second): for /status, OSCQuery and state out."""
        self.receiver.status = MappingProxyType(dict(status))
        # OSCQuery's copy also carries every counter /status names, as read-only nodes.
        self._status = MappingProxyType({**status, "counters": self._counters()})
        state = state_messages(status)
        if self.oscquery is not None:
            self.oscquery.notify(state)
        rate = self.config.state_rate
        now = time.monotonic()
        if rate > 0 and self.address is not None and now - self._state_sent >= 1.0 / rate:
            self._state_sent = now
            try:
                self._states.put_nowait(tuple(state))
            except queue.Full:
                return
            self._wake()

    def _counters(self) -> dict[str, int]:
        """Every counter of the /status reply, by its path under /counters/ (for OSCQuery)."""
        published = self.receiver.published  # the network thread's snapshot
        drops = self.receiver.dropped_by_reason(published)
        out = {"osc/packets": published["packets"], "osc/dropped": sum(drops.values())}
        out.update({f"osc/dropped/{k}": v for k, v in drops.items()})
        out.update({f"osc/{k}": published[k] for k in OTHER_COUNTERS})
        for group, counts in self._extra_counters().items():
            out.update({f"{group}/{k}": int(v) for k, v in counts.items()})
        return out

    def _extra_counters(self) -> dict[str, dict[str, int]]:
        extra = {"osc/tcp": dict(self.tcp.counters)}
        if self.oscquery is not None:
            extra["oscquery"] = self.oscquery.counter_snapshot()
        return extra

    def hud_lines(self) -> list[str]:
        if self.error:
            return [self.error]
        line = self.receiver.summary(self.receiver.published)
        if self.tcp.counters["evicted"] or self.tcp.counters["idle_closed"]:
            line += f"  tcp evicted {self.tcp.counters['evicted']}, idle-closed {self.tcp.counters['idle_closed']}"
        if self.scheduler.dropped:
            line += f"  late-queue full {self.scheduler.dropped}"
        return [line]

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # buffer full (already awake) or closed (stopping)
            pass

    # -- the network thread --------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = self._flush_feedback()
            try:
                ready = self._selector.select(timeout)
            except OSError:
                break
            for key, _ in ready:
                try:
                    self._on_ready(key)
                except Exception:  # never let one packet end the thread; count and go on
                    self.receiver.counters["internal"] += 1
                    log.exception("osc: unexpected error handling input")
            self._drain_updates()
            self._send_state()
            self.tcp.expire(time.monotonic())
            self.receiver.publish()
            self.receiver.log_summary()

    def _on_ready(self, key: selectors.SelectorKey) -> None:
        if key.data == "udp":
            assert self._udp is not None
            for _ in range(UDP_BURST):
                try:
                    data, sender = self._udp.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:  # ICMP errors surfacing on a UDP socket: nothing to read
                    return
                for reply, to in self.receiver.handle(data, sender):
                    self._send_udp(reply, to)
        elif key.data == "wake":
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
        elif key.data == "listen":
            assert self._tcp is not None
            self.tcp.accept(self._tcp)
        else:
            self.tcp.on_readable(key.fileobj)  # type: ignore[arg-type]

    def _send_state(self) -> None:
        while True:
            try:
                state = self._states.get_nowait()
            except queue.Empty:
                return
            if not state:
                continue
            bundle = encode_bundle([encode_message(address, [value]) for address, value in state])
            for client in self.config.feedback:
                if client.state:  # one bundle: a patch sees beat, bar and tempo of one moment
                    self._send_udp(bundle, (client.host, client.port))

    def _send_udp(self, data: bytes, to: Destination) -> None:
        assert self._udp is not None
        try:
            self._udp.sendto(data, to)
        except OSError as exc:  # unreachable client, full buffer: feedback is best effort
            log.debug("osc: send to %s failed: %s", to, exc)

    # -- feedback ------------------------------------------------------------------------
    def _drain_updates(self) -> None:
        while True:
            try:
                update = self._updates.get_nowait()
            except queue.Empty:
                return
            for target, value in update.values:
                pairs = self.space.feedback(target, value)
                source = update.sources.get(target)
                for i, client in enumerate(self.config.feedback):
                    if _is_sender(client, source, self.config.host):
                        continue  # never echo a value to the controller that just sent it
                    for address, arg in pairs:
                        self._pending[(i, address)] = arg

    def _flush_feedback(self) -> float:
        """Send what is due (latest value per address and client, at most `feedback_rate`
        a second each); return how long until the next one is due (the select timeout)."""
        if not self._pending:
            return 0.25
        now = time.monotonic()
        interval = 1.0 / self.config.feedback_rate
        wait = 0.25
        for key, arg in list(self._pending.items()):
            due = self._sent_at.get(key, -interval) + interval
            if due <= now:
                client = self.config.feedback[key[0]]
                self._send_udp(
                    encode_message(key[1], [feedback_arg(client, arg)]), (client.host, client.port)
                )
                self._sent_at[key] = now
                del self._pending[key]
            else:
                wait = min(wait, due - now)
        return max(0.001, wait)


def build_osc_server(
    show: Show, registry: Registry, stats: StatsWriter, events: EventQueue
) -> OscServer | None:
    """An OSC server for the show's `osc:` section (None when it is off); app.py connects it."""
    if not show.osc.enabled:
        return None
    return OscServer(show.osc, registry, stats, events)
