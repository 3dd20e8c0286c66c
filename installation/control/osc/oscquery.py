"""OSCQuery: the address space as JSON over HTTP, and LISTEN over a websocket, so VDMX,
Chataigne, ossia score and TouchOSC discover the show's parameters and follow its values.

GET /                  the whole tree      GET /walk/speed        one node
GET /walk?VALUE        one attribute       GET /?HOST_INFO        server name, OSC port ...
websocket on the same port: {"COMMAND": "LISTEN", "DATA": "/walk/speed"} (or "IGNORE");
each change of a listened value is pushed as a binary OSC message.

The tree is in tree.py; the HTTP/websocket server, with its bounds and timeouts, in http.py
(one thread). Answers are cached per snapshot of the values, so a flood of GETs costs a
lookup each, not a JSON dump. The server is advertised over zeroconf as `_oscjson._tcp`
when the optional `zeroconf` package is installed (renamed "name (2)" when another show has
the name); without it the server still runs and one warning says how to get discovery.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from installation.control.osc.parse import encode_message
from installation.control.osc.space import AddressSpace
from installation.control.osc.state import BY_ADDRESS, state_value
from installation.control.osc.tree import ACCESS_READ, ATTRIBUTES, build_tree, find_node
from installation.web.http import Connection, HttpLimits, HttpServer
from installation.web.http_wire import Response

log = logging.getLogger(__name__)

MAX_LISTENS = 256  # per websocket; the tree has fewer readable nodes than that
MAX_CACHED = 512  # answers kept per snapshot; random query strings must not grow memory
_warned_no_zeroconf = False


class OscQueryServer:
    """Reads the latest values through `values()` and `status()` (mappings that the render
    loop replaces whole, never mutates), so it never touches loop state."""

    def __init__(
        self,
        space: AddressSpace,
        values: Callable[[], Mapping[str, float]],
        *,
        host: str,
        port: int,
        osc_port: int,
        osc_tcp: bool,
        name: str,
        zeroconf: bool = True,
        status: Callable[[], Mapping[str, object]] = dict,
        allows: Callable[[str], bool] = lambda host: True,
        limits: HttpLimits | None = None,
    ) -> None:
        self.space, self.values, self.status, self.name = space, values, status, name
        self.host, self.port, self.osc_port, self.osc_tcp = host, port, osc_port, osc_tcp
        self.allows, self.limits = allows, limits or HttpLimits()
        self.want_zeroconf = zeroconf
        self.advertised = False
        self.advertised_name: str | None = None
        self.counters: Counter[str] = Counter(listen_refused=0, pushed=0)
        self.http: HttpServer | None = None
        self._stopping = False
        self._zeroconf: Any = None
        self._info: Any = None
        self._snapshot: tuple[object, object] | None = None
        self._tree: dict[str, Any] | None = None
        self._cache: dict[str, Response] = {}
        self._dirty: dict[str, object] = {}
        self._dirty_lock = threading.Lock()
        self._scheduled = False
        tree = build_tree(space, {})
        self.readable = frozenset(
            n["FULL_PATH"] for n in _walk(tree) if n.get("ACCESS", 0) & ACCESS_READ
        )

    def host_info(self) -> dict[str, Any]:
        return {
            "NAME": self.name,
            "OSC_IP": self.host,
            "OSC_PORT": self.osc_port,
            "OSC_TRANSPORT": "UDP",
            # What this server does; the rest of the proposal's extensions it does not.
            "EXTENSIONS": {
                "ACCESS": True,
                "VALUE": True,
                "RANGE": True,
                "DESCRIPTION": True,
                "UNIT": True,
                "LISTEN": True,
                "TAGS": False,
                "CLIPMODE": False,
                "CRITICAL": False,
                "OVERLOADS": False,
                "EXTENDED_TYPE": False,
                "HTML": False,
                "PATH_CHANGED": False,
                "PATH_ADDED": False,
                "PATH_REMOVED": False,
                "PATH_RENAMED": False,
            },
        }

    # -- HTTP ------------------------------------------------------------------------------
    def respond(self, target: str) -> tuple[int, dict[str, Any] | None]:
        """(HTTP status, JSON body) for a request target like "/walk/speed?VALUE"."""
        parts = urlsplit(target)
        query = parts.query.split("&")[0] if parts.query else ""
        if query == "HOST_INFO":
            return 200, self.host_info()
        node = find_node(self._current_tree(), unquote(parts.path) or "/")
        if node is None:
            return 404, None
        if not query:
            return 200, node
        if query not in node:
            # The proposal: an attribute the node does not have is "no content".
            return (204 if query in ATTRIBUTES else 400), None
        return 200, {query: node[query]}

    def _current_tree(self) -> dict[str, Any]:
        snapshot = (self.values(), self.status())
        if self._snapshot is None or any(
            a is not b for a, b in zip(snapshot, self._snapshot, strict=True)
        ):
            self._snapshot = snapshot
            self._tree = build_tree(self.space, snapshot[0], snapshot[1])
            self._cache = {}
        assert self._tree is not None
        return self._tree

    def _http_respond(self, method: str, target: str, headers: dict[str, str]) -> Response:
        self._current_tree()  # drops the cache when the values changed
        cached = self._cache.get(target)
        if cached is None:
            status, body = self.respond(target)
            cached = Response(status, b"" if body is None else json.dumps(body).encode("utf-8"))
            if len(self._cache) < MAX_CACHED:
                self._cache[target] = cached
        return cached

    # -- LISTEN (the websocket handler; server thread) -------------------------------------
    def on_open(self, conn: Connection) -> None:
        conn.data["listen"] = set()

    def on_closed(self, conn: Connection) -> None:
        conn.data.pop("listen", None)

    def on_text(self, conn: Connection, text: str) -> None:
        try:
            command = json.loads(text)
            verb, path = command["COMMAND"], command["DATA"]
        except (ValueError, KeyError, TypeError):
            verb = path = None
        if not isinstance(path, str):  # not JSON, not an object, DATA not a path
            self.counters["listen_refused"] += 1
            return
        listening: set[str] = conn.data["listen"]
        if verb == "IGNORE":
            listening.discard(path)
        elif (
            verb == "LISTEN"
            and path in self.readable
            and (len(listening) < MAX_LISTENS or path in listening)
        ):
            listening.add(path)
            current = self._current_value(path)
            if current is not None and self.http is not None:
                self.http.send_ws(conn, encode_message(path, [current]))
        else:  # an unknown verb, a path that is not readable, or too many
            self.counters["listen_refused"] += 1

    def _current_value(self, path: str) -> object | None:
        field = BY_ADDRESS.get(path)
        if field is not None:
            return state_value(field, self.status())
        node = find_node(self._current_tree(), path)
        value = node.get("VALUE") if node else None
        return value[0] if value else None

    # -- pushes (any thread) ---------------------------------------------------------------
    def notify(self, items: list[tuple[str, object]]) -> None:
        """Values that changed, as (address, argument); pushed to their listeners soon."""
        items = [(a, v) for a, v in items if a in self.readable]
        if not items or self.http is None:
            return
        with self._dirty_lock:
            self._dirty.update(items)
            schedule, self._scheduled = not self._scheduled, True
        if schedule and not self.http.call_soon(self._push):
            with self._dirty_lock:  # the server is swamped: the next change tries again
                self._scheduled = False

    def _push(self) -> None:
        with self._dirty_lock:
            items, self._dirty, self._scheduled = self._dirty, {}, False
        if self.http is None:
            return
        packets = {address: encode_message(address, [value]) for address, value in items.items()}
        for conn in self.http.websockets():
            for address in conn.data.get("listen", ()):
                packet = packets.get(address)
                if packet is not None and self.http.send_ws(conn, packet):
                    self.counters["pushed"] += 1

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.http = HttpServer(
            self.host,
            self.port,
            respond=self._http_respond,
            websocket=self,
            allows=self.allows,
            limits=self.limits,
            name="oscquery",
        )
        self.port = self.http.port
        self.http.start()
        log.info(
            "OSCQuery on http://%s:%d/ (LISTEN on ws://%s:%d/)",
            self.host,
            self.port,
            self.host,
            self.port,
        )
        if self.want_zeroconf:
            self._advertise()

    def counter_snapshot(self) -> dict[str, int]:
        http = dict(self.http.counters) if self.http is not None else {}
        return {**http, **self.counters}

    def _advertise(self) -> None:
        global _warned_no_zeroconf
        try:
            import zeroconf
        except ImportError:
            if not _warned_no_zeroconf:
                _warned_no_zeroconf = True
                log.warning(
                    "OSCQuery is served on http://%s:%d/ but not advertised: "
                    "pip install zeroconf to let VDMX, Chataigne and ossia find it",
                    self.host,
                    self.port,
                )
            return
        ip = (
            self.host
            if self.host not in ("0.0.0.0", "::")
            else socket.gethostbyname(socket.gethostname())
        )
        try:
            address = socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)
            self._zeroconf = zeroconf.Zeroconf(
                interfaces=[ip]
                if self.host not in ("0.0.0.0", "::")
                else zeroconf.InterfaceChoice.All
            )
        except (OSError, ValueError) as exc:
            log.warning(
                "OSCQuery could not be advertised over zeroconf (%s: %s); it is still served",
                type(exc).__name__,
                exc,
            )
            return
        # Probing the name takes a few seconds: do it off the caller's thread.
        threading.Thread(
            target=self._register, args=(zeroconf, address), name="oscquery-zeroconf", daemon=True
        ).start()

    def _register(self, zeroconf: Any, address: bytes) -> None:
        kind = "_oscjson._tcp.local."
        try:
            # python-zeroconf does not notice a conflict while probing, so ask first: a
            # second show with the same name becomes "name (2)", as mDNS expects.
            name, n = self.name, 1
            # Multicast answers (QM): a unicast one may land on another show's socket when
            # several share port 5353 on one machine.
            while (
                n < 32
                and not self._stopping
                and self._zeroconf.get_service_info(
                    kind, f"{name}.{kind}", timeout=1500, question_type=zeroconf.DNSQuestionType.QM
                )
                is not None
            ):
                n += 1
                name = f"{self.name} ({n})"
            self._info = zeroconf.ServiceInfo(
                kind,
                f"{name}.{kind}",
                addresses=[address],
                port=self.port,
                properties={},
                # The machine's name, not the show's: two shows on one machine share it.
                server=f"{socket.gethostname().split('.')[0]}.local.",
            )
            self._zeroconf.register_service(self._info, allow_name_change=True)
        except Exception as exc:  # zeroconf's own errors (conflict, closed): say which, go on
            if not self._stopping:
                log.warning(
                    "OSCQuery zeroconf advertisement failed (%s: %s); it is still served on "
                    "http://%s:%d/",
                    type(exc).__name__,
                    exc or "no reason given",
                    self.host,
                    self.port,
                )
            return
        self.advertised_name = self._info.name.removesuffix("." + kind)
        self.advertised = True
        if self.advertised_name != self.name:
            log.warning(
                "OSCQuery: another service is called %r; advertised as %r",
                self.name,
                self.advertised_name,
            )
        else:
            log.info("OSCQuery advertised over zeroconf as %r", self.advertised_name)

    def stop(self) -> None:
        self._stopping = True
        if self._zeroconf is not None:
            try:
                if self.advertised:
                    self._zeroconf.unregister_service(self._info)
                self._zeroconf.close()
            except Exception as exc:  # shutting down: report, never block the show's exit
                log.debug("zeroconf close: %s", exc)
            self._zeroconf = None
        if self.http is not None:
            self.http.stop()
            self.http = None


def _walk(node: dict[str, Any]):
    yield node
    for child in node.get("CONTENTS", {}).values():
        yield from _walk(child)
