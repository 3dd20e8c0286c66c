"""The `osc:` section of show.yaml (schema only; config/show.py hangs it on the Show).

Defaults keep a fresh show safe: it listens on 127.0.0.1 only, so nothing on a gallery's
public network can steer it until the operator sets `host: 0.0.0.0`; even then only
private networks (the allow-list) get through.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from installation.config.base import Section, did_you_mean
from installation.control.mapping import Curve
from installation.params import REGISTRY, address_of

PRIVATE_NETWORKS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
]
_PATTERN_CHARS = set("*?[]{}, #")


def _check_ip(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::)") from None
    return host


class OscMapping(Section):
    """A custom address (a TouchOSC fader, a TouchDesigner channel) driving a registry name."""

    address: str = Field(description="literal OSC address, e.g. /1/fader1")
    target: str = Field(description="a parameter or action from `installation osc addresses`")
    arg: int = Field(0, ge=0, le=63, description="which argument of the message (0 = first)")
    input: tuple[float, float] = (0.0, 1.0)
    output: tuple[float, float] | None = Field(None, description="default: the parameter's range")
    curve: Curve = "linear"
    invert: bool = False
    smoothing: float = Field(0.0, ge=0.0, le=60.0, description="seconds; 0 = none")

    @field_validator("address")
    @classmethod
    def _literal_address(cls, address: str) -> str:
        if not address.startswith("/") or len(address) > 200 or not address.isascii():
            raise ValueError(f"{address!r} must be an ASCII OSC address starting with /")
        bad = sorted(set(address) & _PATTERN_CHARS)
        if bad:
            raise ValueError(f"{address!r} must be a plain address, without {' '.join(bad)}")
        return address

    @field_validator("target")
    @classmethod
    def _known_target(cls, target: str) -> str:
        action = REGISTRY.actions.get(target)
        if target not in REGISTRY.params and (action is None or not action.remote):
            remote = [*REGISTRY.params, *(a.name for a in REGISTRY.actions.values() if a.remote)]
            raise ValueError(f"unknown target {target!r}{did_you_mean(target, remote)}")
        return target

    @field_validator("input")
    @classmethod
    def _span(cls, rng: tuple[float, float]) -> tuple[float, float]:
        if rng[0] == rng[1]:
            raise ValueError("input range needs two different ends")
        return rng


class FeedbackClient(Section):
    host: str
    port: int = Field(ge=1, le=65535)
    # How to recognize this client's own messages, so its values are not echoed back:
    # "port" (it sends from the port it listens on, or from `send_port`: TouchOSC, Open
    # Stage Control), "host" (any port on that machine: Max's udpsend, TouchDesigner's OSC
    # Out; on a loopback or the show's own address every local program would match, so
    # there it falls back to "port"), or "none" (echo everything).
    echo_guard: Literal["port", "host", "none"] = "port"
    send_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="the port this client sends from, when not its listening port",
    )
    # Pd's [oscparse] rejects T/F type tags, and many Max/TouchDesigner patches mishandle
    # them: booleans go out as int 0/1 unless a client asks for T/F.
    bools: Literal["int", "float", "TF"] = "int"
    state: bool = Field(
        True, description="send /state/... (tempo, beat, model, fps) at osc.state_rate"
    )

    @field_validator("host")
    @classmethod
    def _ip(cls, host: str) -> str:
        return _check_ip(host)


class OscQueryConfig(Section):
    enabled: bool = True
    port: int = Field(9001, ge=0, le=65535, description="HTTP port; 0 picks a free one")
    zeroconf: bool = Field(True, description="advertise as _oscjson._tcp (needs `zeroconf`)")
    name: str = Field("installation", min_length=1, max_length=63)
    max_connections: int = Field(
        64, ge=2, le=1024, description="HTTP and websocket connections at once"
    )
    header_timeout: float = Field(
        5.0, gt=0.0, le=120.0, description="seconds to send a request's headers"
    )
    idle_timeout: float = Field(
        30.0, gt=0.0, le=3600.0, description="seconds a keep-alive connection may idle"
    )


class OscConfig(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(
        9000,
        ge=0,
        le=65535,
        description="UDP and TCP (SLIP or size-prefixed) port; 0 picks a free one",
    )
    tcp: bool = True
    tcp_max_clients: int = Field(
        32, ge=1, le=1024, description="TCP connections at once; the most idle gives way"
    )
    tcp_idle_timeout: float = Field(
        600.0, gt=0.0, description="seconds a silent TCP connection is kept"
    )
    allow: list[str] = Field(default_factory=lambda: list(PRIVATE_NETWORKS))
    rate_limit: float = Field(
        2000.0, ge=0.0, description="packets/s per sender address; 0 = no limit"
    )
    burst: int = Field(200, ge=1, description="packets a sender may send at once above the rate")
    max_packet: int = Field(16384, ge=64, le=65536, description="bytes; bigger packets are dropped")
    max_delay: float = Field(
        10.0, ge=0.0, le=3600.0, description="future timetags are clamped to this"
    )
    queue: int = Field(
        1024, ge=16, le=100_000, description="events held for a bundle's future timetag"
    )
    feedback: list[FeedbackClient] = Field(default_factory=list)
    feedback_rate: float = Field(
        30.0, gt=0.0, le=1000.0, description="messages/s per address and client"
    )
    state_rate: float = Field(
        10.0, ge=0.0, le=120.0, description="/state/... messages/s to feedback clients; 0 = off"
    )
    oscquery: OscQueryConfig = OscQueryConfig()
    mappings: list[OscMapping] = Field(default_factory=list)

    @field_validator("host")
    @classmethod
    def _ip(cls, host: str) -> str:
        return _check_ip(host)

    @field_validator("allow")
    @classmethod
    def _networks(cls, allow: list[str]) -> list[str]:
        for net in allow:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not a network (CIDR like 192.168.1.0/24)") from None
        return allow

    @model_validator(mode="after")
    def _mappings_fit(self) -> OscConfig:
        registry_addresses = {address_of(n) for n in [*REGISTRY.params, *REGISTRY.actions]}
        seen: set[tuple[str, int]] = set()
        for m in self.mappings:
            if (
                m.address in registry_addresses
                or m.address == "/status"
                or m.address.startswith("/norm/")
            ):
                raise ValueError(f"mapping address {m.address} is already a built-in address")
            if (m.address, m.arg) in seen:
                raise ValueError(f"two mappings for {m.address} argument {m.arg}")
            seen.add((m.address, m.arg))
        return self
