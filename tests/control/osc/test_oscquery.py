"""OSCQuery over real HTTP on loopback."""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request

import pytest
from osc_support import oscquery_server

from installation.control.osc import oscquery
from installation.control.osc.config import OscConfig, OscMapping
from installation.control.osc.oscquery import OscQueryServer
from installation.control.osc.space import AddressSpace
from installation.params import REGISTRY

# The OSCQuery proposal's required attribute of every node, and what leaves must carry.
NODE_REQUIRED = {"FULL_PATH"}
PARAM_REQUIRED = {"FULL_PATH", "TYPE", "RANGE", "VALUE", "DESCRIPTION", "ACCESS"}


@pytest.fixture
def server():
    space = AddressSpace(
        REGISTRY,
        OscConfig(
            mappings=[
                OscMapping(address="/xy", target="walk.speed"),
                OscMapping(address="/xy", target="walk.paused", arg=1),
            ]
        ).mappings,
    )
    values = dict(REGISTRY.initial_values(), **{"walk.speed": -1.0})
    srv = oscquery_server(space=space, values=lambda: values, osc_port=9123, name="test-show")
    srv.start()
    yield srv
    srv.stop()


def get(srv: OscQueryServer, path: str) -> tuple[int, dict | None]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}{path}", timeout=5) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


def walk(node: dict):
    yield node
    for child in node.get("CONTENTS", {}).values():
        yield from walk(child)


def test_the_tree_has_the_specs_fields(server: OscQueryServer) -> None:
    status, root = get(server, "/")
    assert status == 200 and root["FULL_PATH"] == "/"
    nodes = {n["FULL_PATH"]: n for n in walk(root)}
    for node in nodes.values():
        assert NODE_REQUIRED <= node.keys()
        if "CONTENTS" in node:
            for name, child in node["CONTENTS"].items():
                assert child["FULL_PATH"] == (node["FULL_PATH"].rstrip("/") + "/" + name)
    speed = nodes["/walk/speed"]
    assert PARAM_REQUIRED <= speed.keys()
    assert speed["TYPE"] == "f" and speed["RANGE"] == [{"MIN": -2.0, "MAX": 2.0}]
    assert speed["VALUE"] == [-1.0] and speed["ACCESS"] == 3
    # No unit of the proposal's vocabulary fits keyframes/s: it stays in the description.
    assert "UNIT" not in speed and speed["DESCRIPTION"].endswith("(keyframes/s)")
    assert nodes["/state/bpm"]["UNIT"] == ["time.bpm"] and nodes["/state/bpm"]["ACCESS"] == 1
    assert nodes["/state/fps"]["UNIT"] == ["time.hz"]
    assert nodes["/norm/walk/speed"]["VALUE"] == [0.25]
    assert nodes["/walk/paused"]["TYPE"] == "T" and nodes["/walk/paused"]["VALUE"] == [False]
    assert nodes["/screenshot"]["ACCESS"] == 2 and nodes["/screenshot"]["TYPE"] == "N"
    assert nodes["/screenshot"]["VALUE"] == [None]  # what python-oscquery's client needs
    assert nodes["/xy"]["TYPE"] == "ff" and len(nodes["/xy"]["RANGE"]) == 2
    assert "/quit" not in nodes


def test_single_nodes_attributes_and_host_info(server: OscQueryServer) -> None:
    assert get(server, "/walk/speed")[1]["FULL_PATH"] == "/walk/speed"
    assert get(server, "/walk/speed?VALUE") == (200, {"VALUE": [-1.0]})
    assert get(server, "/walk?RANGE")[0] == 204  # a container has no range
    assert get(server, "/nowhere")[0] == 404
    status, info = get(server, "/?HOST_INFO")
    assert status == 200
    assert (
        info["NAME"] == "test-show" and info["OSC_PORT"] == 9123 and info["OSC_TRANSPORT"] == "UDP"
    )
    assert info["EXTENSIONS"]["VALUE"] is True


def test_without_zeroconf_it_serves_and_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Simulates the optional package being absent (None in sys.modules makes import fail).
    monkeypatch.setitem(sys.modules, "zeroconf", None)
    monkeypatch.setattr(oscquery, "_warned_no_zeroconf", False)
    caplog.set_level(logging.WARNING, logger="installation.control.osc.oscquery")
    space = AddressSpace(REGISTRY)
    servers = [
        oscquery_server(space=space, osc_tcp=False, name="x", zeroconf=True) for _ in range(2)
    ]
    try:
        for srv in servers:
            srv.start()
            assert get(srv, "/walk/speed?VALUE") == (200, {"VALUE": [0.25]})
            assert not srv.advertised
    finally:
        for srv in servers:
            srv.stop()
    warnings = [r for r in caplog.records if "zeroconf" in r.getMessage()]
    assert len(warnings) == 1 and "pip install zeroconf" in warnings[0].getMessage()


def test_with_zeroconf_it_is_advertised_as_oscjson() -> None:
    zeroconf = pytest.importorskip(
        "zeroconf", reason="the optional zeroconf package is not installed"
    )
    import time

    srv = oscquery_server(name="installation-test", zeroconf=True)
    srv.start()
    browser = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
    try:
        deadline = time.monotonic() + 10
        while not srv.advertised and time.monotonic() < deadline:
            time.sleep(0.05)
        info = browser.get_service_info(
            "_oscjson._tcp.local.", "installation-test._oscjson._tcp.local.", timeout=3000
        )
        assert info is not None and info.port == srv.port
        assert info.parsed_addresses() == ["127.0.0.1"]
    finally:
        browser.close()
        srv.stop()
