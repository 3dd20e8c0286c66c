"""Helpers for the OSC tests: a tiny real model and show, real loopback sockets."""

from __future__ import annotations

import os
import socket
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from installation.control.osc.parse import parse_packet  # noqa: E402
from tests.conftest import make_model as tests_make_model  # noqa: E402
from tests.waiting import wait_for  # noqa: F401  (the OSC tests import it from here)

REPO = Path(__file__).resolve().parents[3]


def make_model(folder: Path, latent_dim: int = 16) -> Path:
    """A tiny real DCGAN checkpoint (32x32), saved the way the show loads models."""
    return tests_make_model(folder, latent_dim=latent_dim, step=42)


def show_dict(tmp_path: Path, **osc) -> dict:
    """A small uncapped show on a tiny model; OSC and OSCQuery on free ports."""
    model = make_model(tmp_path / "models" / "tiny")
    settings = {"port": 0, "oscquery": {"port": 0, "zeroconf": False}}
    settings.update(osc)
    return {
        "display": {
            "size": [64, 36],
            "fullscreen": False,
            "fps": 0,
            "vsync": False,
            "pipeline": "off",
        },
        "model": {"path": str(model), "device": "cpu"},
        "navigator": {"seed": 3},
        # No slew on the parameters the tests read, so a change shows in the next frame.
        "parameters": {"walk.paused": {"smoothing": 0}, "output.brightness": {"smoothing": 0}},
        "osc": settings,
        "midi": {"enabled": False},  # MIDI has its own tests; here it would open JACK ports
    }


def udp_socket(bind: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if bind:
        sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    return sock


def receive_messages(
    sock: socket.socket, count: int = 1, timeout: float = 5.0, state: bool = False
) -> dict[str, tuple]:
    """Messages received on `sock` as {address: args} (bundles opened), at least `count`;
    the show's state out (/state/..., sent on its own clock) only when `state` is set."""
    got: dict[str, tuple] = {}
    sock.settimeout(timeout)
    while len(got) < count:
        data, _ = sock.recvfrom(65536)
        for group in parse_packet(data):
            for message in group.messages:
                if state or not message.address.startswith("/state/"):
                    got[message.address] = message.args
    return got


def oscquery_server(**overrides):
    """An OSCQuery server on a free loopback port over the registry (not started): the
    defaults every OSCQuery test shares, with `overrides` for what a test is about."""
    from installation.control.osc.oscquery import OscQueryServer
    from installation.control.osc.space import AddressSpace
    from installation.params import REGISTRY

    args = {
        "host": "127.0.0.1",
        "port": 0,
        "osc_port": 9000,
        "osc_tcp": True,
        "name": "test",
        "zeroconf": False,
    }
    args.update(overrides)
    space = args.pop("space", None) or AddressSpace(REGISTRY)
    values = args.pop("values", REGISTRY.initial_values)
    return OscQueryServer(space, values, **args)
