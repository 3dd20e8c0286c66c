"""The OSCQuery namespace as JSON-ready dicts (pure: no sockets), per the OSCQuery proposal
(https://github.com/Vidvox/OSCQueryProposal).

Nodes carry FULL_PATH, CONTENTS (containers), TYPE, RANGE, VALUE, DESCRIPTION, ACCESS
(1 read, 2 write, 3 both) and UNIT. Interop choices, each for a client that broke:

- Write-only nodes (triggers like /cue/next, custom mappings) carry a VALUE of JSON nulls,
  one per argument: python-oscquery's client refuses a method node without a VALUE list,
  and null is what the proposal gives a value that has none.
- UNIT uses the proposal's vocabulary (`time.bpm`, `time.hz`, ...) where one fits; a
  free-text unit that has no match (keyframes/s) stays in DESCRIPTION instead, since
  clients use UNIT to convert values.
- The show's state (`/state/...`) is read-only (ACCESS 1), and so are the counters of
  /status (`/counters/osc/dropped/malformed`, ...), to poll (LISTEN does not follow them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from installation.control.osc.space import AddressSpace, Endpoint
from installation.control.osc.state import STATE_FIELDS, state_value
from installation.params import Registry

ACCESS_READ, ACCESS_WRITE = 1, 2
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "RANGE", "VALUE", "DESCRIPTION", "ACCESS", "UNIT")
# The proposal's unit names for the free-text units the registry and the state use.
SPEC_UNITS = {
    "bpm": "time.bpm",
    "fps": "time.hz",
    "Hz": "time.hz",
    "s": "time.second",
    "ms": "time.ms",
    "degrees": "angle.degree",
    "px": "distance.pixels",
}


def _with_unit(node: dict[str, Any], unit: str) -> None:
    if not unit:
        return
    spec = SPEC_UNITS.get(unit)
    if spec is not None:
        node["UNIT"] = [spec]
    node["DESCRIPTION"] = f"{node['DESCRIPTION']} ({unit})".strip()


def _leaf(
    endpoints: tuple[Endpoint, ...], values: Mapping[str, float], registry: Registry
) -> dict[str, Any]:
    first = endpoints[0]
    node: dict[str, Any] = {"FULL_PATH": first.address, "DESCRIPTION": first.description}
    if first.kind in ("query", "action"):
        node.update(TYPE="N", ACCESS=ACCESS_WRITE, VALUE=[None])
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
        node["VALUE"] = [None] * len(args)
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
    if first.scale == "units":
        _with_unit(node, first.unit)
    return node


def _place(root: dict[str, Any], address: str, leaf: dict[str, Any]) -> None:
    node = root
    parts = address.strip("/").split("/")
    for depth, part in enumerate(parts[:-1]):
        path = "/" + "/".join(parts[: depth + 1])
        node = node.setdefault("CONTENTS", {}).setdefault(
            part, {"FULL_PATH": path, "CONTENTS": {}, "ACCESS": 0, "DESCRIPTION": ""}
        )
    existing = node.setdefault("CONTENTS", {}).get(parts[-1])
    if existing is not None:  # an address that is also a container (/a and /a/b)
        leaf["CONTENTS"] = existing.get("CONTENTS", {})
    node["CONTENTS"][parts[-1]] = leaf


def build_tree(
    space: AddressSpace, values: Mapping[str, float], status: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """The OSCQuery namespace: containers for each path segment, leaves for addresses."""
    root: dict[str, Any] = {
        "FULL_PATH": "/",
        "CONTENTS": {},
        "DESCRIPTION": "installation",
        "ACCESS": 0,
    }
    for address, endpoints in sorted(space.table.items()):
        _place(root, address, _leaf(endpoints, values, space.registry))
    status = status or {}
    for f in STATE_FIELDS:
        value = state_value(f, status)
        leaf: dict[str, Any] = {
            "FULL_PATH": f.address,
            "DESCRIPTION": f.description,
            "TYPE": f.tag,
            "ACCESS": ACCESS_READ,
            "VALUE": [value if value is not None else ("" if f.tag == "s" else 0)],
        }
        _with_unit(leaf, f.unit)
        _place(root, f.address, leaf)
    counters = status.get("counters")
    if isinstance(counters, Mapping):  # the drop and clamp counters of /status, to poll
        for name, count in sorted(counters.items()):
            _place(
                root,
                f"/counters/{name}",
                {
                    "FULL_PATH": f"/counters/{name}",
                    "TYPE": "i",
                    "ACCESS": ACCESS_READ,
                    "VALUE": [int(count)],
                    "DESCRIPTION": f"/status/{name} (a counter)",
                },
            )
    return root


def find_node(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    node = tree
    for part in [p for p in path.strip("/").split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node
