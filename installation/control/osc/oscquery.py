"""OSCQuery: the address space as JSON over HTTP, so VDMX, Chataigne, ossia score and
TouchOSC discover the show's parameters instead of anyone typing them.

GET /                  the whole tree      GET /walk/speed        one node
GET /walk?VALUE        one attribute       GET /?HOST_INFO        server name, OSC port ...

Nodes carry FULL_PATH, CONTENTS (containers), TYPE, RANGE, VALUE, DESCRIPTION, ACCESS
(1 read, 2 write, 3 both) and UNIT, per the OSCQuery proposal
(https://github.com/Vidvox/OSCQueryProposal). The server is advertised over zeroconf as
`_oscjson._tcp` when the optional `zeroconf` package is installed; without it the server
still runs and one warning says how to get discovery.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from installation.control.osc.space import AddressSpace, Endpoint
from installation.params import Registry

log = logging.getLogger(__name__)

ACCESS_READ, ACCESS_WRITE = 1, 2
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "RANGE", "VALUE", "DESCRIPTION", "ACCESS", "UNIT")
_warned_no_zeroconf = False


def _leaf(
    endpoints: tuple[Endpoint, ...], values: Mapping[str, float], registry: Registry
) -> dict[str, Any]:
    first = endpoints[0]
    node: dict[str, Any] = {"FULL_PATH": first.address, "DESCRIPTION": first.description}
    if first.kind in ("query", "action"):
        node.update(TYPE="N", ACCESS=ACCESS_WRITE)
        return node
    if first.scale == "mapped":
        by_arg = {ep.arg: ep for ep in endpoints}
        args = range(max(by_arg) + 1)
        node["TYPE"] = "f" * len(args)
        node["RANGE"] = [
            {"MIN": min(by_arg[i].input), "MAX": max(by_arg[i].input)} if i in by_arg else {}
            for i in args
        ]
        node["ACCESS"] = ACCESS_WRITE
        node["DESCRIPTION"] = "; ".join(f"argument {ep.arg} -> {ep.target}" for ep in endpoints)
        return node
    param = registry.params[first.target]
    value = values.get(first.target, param.default)
    if first.scale == "normalized":
        value = param.to_normalized(value)
    node["TYPE"] = first.tag
    node["RANGE"] = [{"MIN": first.minimum, "MAX": first.maximum}]
    if first.tag == "T":
        node["VALUE"] = [bool(value >= 0.5)]
    elif first.tag == "i":
        node["VALUE"] = [int(round(value))]
    else:
        node["VALUE"] = [float(value)]
    node["ACCESS"] = ACCESS_READ | ACCESS_WRITE
    if first.unit and first.scale == "units":
        node["UNIT"] = [first.unit]
    return node


def build_tree(space: AddressSpace, values: Mapping[str, float]) -> dict[str, Any]:
    """The OSCQuery namespace: containers for each path segment, leaves for addresses."""
    root: dict[str, Any] = {
        "FULL_PATH": "/",
        "CONTENTS": {},
        "DESCRIPTION": "installation",
        "ACCESS": 0,
    }
    for address, endpoints in sorted(space.table.items()):
        node = root
        parts = address.strip("/").split("/")
        for depth, part in enumerate(parts[:-1]):
            path = "/" + "/".join(parts[: depth + 1])
            node = node.setdefault("CONTENTS", {}).setdefault(
                part, {"FULL_PATH": path, "CONTENTS": {}, "ACCESS": 0, "DESCRIPTION": ""}
            )
        leaf = _leaf(endpoints, values, space.registry)
        existing = node.setdefault("CONTENTS", {}).get(parts[-1])
        if existing is not None:  # an address that is also a container (/a and /a/b)
            leaf["CONTENTS"] = existing.get("CONTENTS", {})
        node["CONTENTS"][parts[-1]] = leaf
    return root


def find_node(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    node = tree
    for part in [p for p in path.strip("/").split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


class OscQueryServer:
    """HTTP on its own thread; reads the latest values through `values()` (a mapping that
    the render loop replaces whole, never mutates), so it never touches loop state."""

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
    ) -> None:
        self.space, self.values, self.name = space, values, name
        self.host, self.port, self.osc_port, self.osc_tcp = host, port, osc_port, osc_tcp
        self.want_zeroconf = zeroconf
        self.advertised = False
        self._stopping = False
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._zeroconf: Any = None
        self._info: Any = None

    def host_info(self) -> dict[str, Any]:
        return {
            "NAME": self.name,
            "OSC_IP": self.host,
            "OSC_PORT": self.osc_port,
            "OSC_TRANSPORT": "UDP",
            "EXTENSIONS": {
                "ACCESS": True,
                "VALUE": True,
                "RANGE": True,
                "DESCRIPTION": True,
                "UNIT": True,
                "TAGS": False,
                "CLIPMODE": False,
                "LISTEN": False,
                "PATH_CHANGED": False,
            },
        }

    def respond(self, target: str) -> tuple[int, dict[str, Any] | None]:
        """(HTTP status, JSON body) for a request target like "/walk/speed?VALUE"."""
        parts = urlsplit(target)
        query = parts.query.split("&")[0] if parts.query else ""
        if query == "HOST_INFO":
            return 200, self.host_info()
        node = find_node(build_tree(self.space, self.values()), parts.path or "/")
        if node is None:
            return 404, None
        if not query:
            return 200, node
        if query not in node:
            # The proposal: an attribute the node does not have is "no content".
            return (204 if query in ATTRIBUTES else 400), None
        return 200, {query: node[query]}

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                status, body = server.respond(self.path)
                data = b"" if body is None else json.dumps(body).encode("utf-8")
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("oscquery %s " + format, self.address_string(), *args)

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            daemon_threads = True

        self._httpd = Server((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="oscquery", daemon=True
        )
        self._thread.start()
        log.info("OSCQuery on http://%s:%d/", self.host, self.port)
        if self.want_zeroconf:
            self._advertise()

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
            self._info = zeroconf.ServiceInfo(
                "_oscjson._tcp.local.",
                f"{self.name}._oscjson._tcp.local.",
                addresses=[socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)],
                port=self.port,
                properties={},
                server=f"{self.name}.local.",
            )
            self._zeroconf = zeroconf.Zeroconf(
                interfaces=[ip]
                if self.host not in ("0.0.0.0", "::")
                else zeroconf.InterfaceChoice.All
            )
            # Probing the name takes a few seconds: do it off the caller's thread.
            threading.Thread(target=self._register, name="oscquery-zeroconf", daemon=True).start()
        except (OSError, ValueError) as exc:
            log.warning(
                "OSCQuery could not be advertised over zeroconf (%s); it is still served", exc
            )

    def _register(self) -> None:
        try:
            self._zeroconf.register_service(self._info)
            self.advertised = True
        except Exception as exc:  # zeroconf's own errors (name conflict, closed): say so, go on
            if not self._stopping:
                log.warning("OSCQuery zeroconf advertisement failed (%s); it is still served", exc)

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
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
