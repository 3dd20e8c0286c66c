"""The OSC address space, generated from the parameter registry (pure, no sockets).

Every parameter answers at its own address in its own units (`/walk/speed -0.5`) and at
`/norm/...` in 0..1 (`/norm/walk/speed 0.375`, what faders send); every remote action at
its address (`/screenshot`); `/status` replies with the show's state. show.yaml mappings
add custom addresses. Incoming addresses may be OSC 1.0 patterns (`*`, `?`, `[a-z]`,
`[!0-9]`, `{a,b}`), matched against this table.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from installation.control.mapping import Curve, map_value, normalize, unmap_value
from installation.control.osc.config import OscMapping
from installation.control.osc.parse import Message, OscParseError
from installation.events import ControlEvent
from installation.params import Registry

STATUS = "/status"
NORM = "/norm"
MAX_PATTERN = 256
MAX_STARS = 8  # more makes regex backtracking expensive; no real controller sends that
_TRUE_WORDS = {"true", "on", "yes"}
_FALSE_WORDS = {"false", "off", "no"}


@dataclass(frozen=True)
class Endpoint:
    """One address's meaning: which registry name, in which scale, from which argument."""

    address: str
    target: str  # registry name; "" for /status
    kind: Literal["param", "action", "query"]
    scale: Literal["units", "normalized", "mapped"]
    tag: str  # OSCQuery/OSC type: f, i, T (bool), N (no argument)
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None
    unit: str = ""
    description: str = ""
    arg: int = 0
    input: tuple[float, float] = (0.0, 1.0)
    output: tuple[float, float] = (0.0, 1.0)
    curve: Curve = "linear"
    invert: bool = False
    smoothing: float = 0.0


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """An OSC 1.0 address pattern as a compiled regex (raises OscParseError("pattern"))."""
    if len(pattern) > MAX_PATTERN:
        raise OscParseError("pattern", "too long")
    pattern = re.sub(r"\*+", "*", pattern)
    if pattern.count("*") > MAX_STARS:
        raise OscParseError("pattern", f"more than {MAX_STARS} '*'")
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise OscParseError("pattern", "unclosed [")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            # Keep "a-z" ranges, escape everything else.
            parts = [
                re.escape(ch) if ch != "-" or j in (0, len(body) - 1) else "-"
                for j, ch in enumerate(body)
            ]
            if not body:
                raise OscParseError("pattern", "empty []")
            out.append(("[^" if negate else "[") + "".join(parts) + "]")
            i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                raise OscParseError("pattern", "unclosed {")
            out.append(
                "(?:" + "|".join(re.escape(w) for w in pattern[i + 1 : end].split(",")) + ")"
            )
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out))
    except re.error as exc:  # e.g. a reversed range [z-a]
        raise OscParseError("pattern", str(exc)) from None


def _number(arg: object) -> float | None:
    """An OSC argument as a number, or None if it is not one (blob, nil, MIDI ...)."""
    if isinstance(arg, bool):
        return 1.0 if arg else 0.0
    if isinstance(arg, int | float):
        value = float(arg)
        return value if math.isfinite(value) else None
    if isinstance(arg, str):
        word = arg.strip().lower()
        if word in _TRUE_WORDS:
            return 1.0
        if word in _FALSE_WORDS:
            return 0.0
        try:
            value = float(word)
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    return None


def _valued_action(
    target: str, args: tuple[object, ...], source: str, received: float
) -> ControlEvent:
    """An action that carries a number (`/cue/jump 3`, `/tempo 120`) and maybe a name
    (`/scene/rename 2 intro`): the first number, NaN when none, and the first other string."""
    numbers = [v for v in (_number(a) for a in args) if v is not None]
    words = [a for a in args if isinstance(a, str) and _number(a) is None]
    value = numbers[0] if numbers else math.nan
    text = words[0][:64] if words else ""
    return ControlEvent(target, value, source=source, received=received, text=text)


class AddressSpace:
    """The table of addresses for a registry plus show mappings; immutable once built."""

    def __init__(self, registry: Registry, mappings: Iterable[OscMapping] = ()) -> None:
        self.registry = registry
        table: dict[str, list[Endpoint]] = {}
        for p in registry.params.values():
            tag = {"float": "f", "int": "i", "bool": "T"}[p.kind]
            common = dict(target=p.name, kind="param", unit=p.unit, description=p.description)
            table[p.address] = [
                Endpoint(
                    p.address,
                    scale="units",
                    tag=tag,
                    minimum=p.minimum,
                    maximum=p.maximum,
                    default=p.default,
                    **common,
                )
            ]
            norm = NORM + p.address
            table[norm] = [
                Endpoint(
                    norm,
                    p.name,
                    "param",
                    "normalized",
                    "f",
                    0.0,
                    1.0,
                    p.to_normalized(p.default),
                    description=f"{p.address} as 0..1.",
                )
            ]
        for a in registry.actions.values():
            if a.remote:
                table[a.address] = [
                    Endpoint(a.address, a.name, "action", "units", "N", description=a.description)
                ]
        table[STATUS] = [
            Endpoint(
                STATUS,
                "",
                "query",
                "units",
                "N",
                description="Replies to the sender with /status/... messages.",
            )
        ]
        for m in mappings:
            param = registry.params.get(m.target)
            out = m.output or ((param.minimum, param.maximum) if param else (0.0, 1.0))
            table.setdefault(m.address, []).append(
                Endpoint(
                    m.address,
                    m.target,
                    "param" if param else "action",
                    "mapped",
                    "f",
                    minimum=min(m.input),
                    maximum=max(m.input),
                    unit="",
                    description=f"mapped to {m.target}",
                    arg=m.arg,
                    input=m.input,
                    output=out,
                    curve=m.curve,
                    invert=m.invert,
                    smoothing=m.smoothing,
                )
            )
        self.table: dict[str, tuple[Endpoint, ...]] = {k: tuple(v) for k, v in table.items()}
        self._patterns: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        # target -> endpoints that show it, for feedback (mapped ones only if unambiguous).
        self.showing: dict[str, tuple[Endpoint, ...]] = {}
        for endpoints in self.table.values():
            for ep in endpoints:
                if ep.kind == "param" and (
                    ep.scale != "mapped" or (len(endpoints) == 1 and ep.arg == 0)
                ):
                    self.showing[ep.target] = (*self.showing.get(ep.target, ()), ep)

    # -- incoming ------------------------------------------------------------------------
    def match(self, address: str) -> tuple[str, ...]:
        """The table addresses an incoming address (or pattern) refers to."""
        if address in self.table:
            return (address,)
        if not any(c in address for c in "*?[{"):
            return ()
        cached = self._patterns.get(address)
        if cached is None:
            regex = pattern_regex(address)
            cached = tuple(a for a in self.table if regex.fullmatch(a))
            self._patterns[address] = cached
            if len(self._patterns) > 256:  # bounded: random patterns must not grow memory
                self._patterns.popitem(last=False)
        return cached

    def resolve(
        self, message: Message, source: str, received: float
    ) -> tuple[list[ControlEvent], bool]:
        """(events, whether /status was asked); raises OscParseError for unusable messages."""
        addresses = self.match(message.address)
        if not addresses:
            raise OscParseError("unknown_address", message.address[:64])
        out: list[ControlEvent] = []
        status = False
        for address in addresses:
            for ep in self.table[address]:
                if ep.kind == "query":
                    status = True
                    continue
                resolved = self._event(ep, message.args, source, received)
                if resolved is not None:
                    out.append(resolved)
        return out, status

    def _event(
        self, ep: Endpoint, args: tuple[object, ...], source: str, received: float
    ) -> ControlEvent | None:
        action = self.registry.actions.get(ep.target) if ep.kind == "action" else None
        if action is not None and action.takes_value and ep.scale != "mapped":
            return _valued_action(ep.target, args, source, received)
        if ep.kind == "action":
            # A button sends 1 on press and 0 on release: only the press triggers.
            if len(args) <= ep.arg:
                if ep.scale == "mapped":
                    raise OscParseError("bad_args", f"{ep.address} needs argument {ep.arg}")
                return ControlEvent(ep.target, 1.0, source=source, received=received)
            value = _number(args[ep.arg])
            if value is None:
                if isinstance(args[ep.arg], str):  # "/screenshot bang"
                    return ControlEvent(ep.target, 1.0, source=source, received=received)
                raise OscParseError("bad_args", f"{ep.address} argument {ep.arg} is not a number")
            if ep.scale == "mapped":
                value = map_value(value, ep.input, (0.0, 1.0), ep.curve, ep.invert)
            if value < 0.5:
                return None
            return ControlEvent(ep.target, 1.0, source=source, received=received)
        if len(args) <= ep.arg:
            raise OscParseError("bad_args", f"{ep.address} needs argument {ep.arg}")
        value = _number(args[ep.arg])
        if value is None:
            raise OscParseError("bad_args", f"{ep.address} argument {ep.arg} is not a number")
        if ep.scale == "normalized":
            return ControlEvent(
                ep.target,
                min(1.0, max(0.0, value)),
                normalized=True,
                source=source,
                received=received,
            )
        if ep.scale == "mapped":
            value = map_value(value, ep.input, ep.output, ep.curve, ep.invert)
        return ControlEvent(
            ep.target, value, source=source, received=received, smoothing=ep.smoothing
        )

    # -- outgoing ------------------------------------------------------------------------
    def feedback(self, target: str, value: float) -> list[tuple[str, object]]:
        """(address, argument) pairs that show `value` of a parameter on controllers."""
        param = self.registry.params.get(target)
        if param is None:
            return []
        out: list[tuple[str, object]] = []
        for ep in self.showing.get(target, ()):
            if ep.scale == "normalized":
                out.append((ep.address, float(normalize(value, param.minimum, param.maximum))))
            elif ep.scale == "mapped":
                out.append(
                    (
                        ep.address,
                        float(unmap_value(value, ep.input, ep.output, ep.curve, ep.invert)),
                    )
                )
            elif param.kind == "bool":
                out.append((ep.address, value >= 0.5))
            elif param.kind == "int":
                out.append((ep.address, int(round(value))))
            else:
                out.append((ep.address, float(value)))
        return out

    def endpoints(self) -> list[Endpoint]:
        return [ep for eps in self.table.values() for ep in eps]
