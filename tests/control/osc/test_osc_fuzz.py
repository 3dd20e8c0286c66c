"""Fuzzing: >= 100,000 mutated packets leave the receiver alive and answering.

The bulk goes straight into `Receiver.handle` (parsing is apart from networking, so this is
fast and any escaping exception fails the test); a sample then goes through a real server
on loopback, which must still answer a /status probe.
"""

from __future__ import annotations

import random
import socket
import struct

from osc_support import receive_messages, udp_socket, wait_for

from installation.control.osc.config import OscConfig
from installation.control.osc.parse import encode_bundle, encode_message, unix_to_ntp
from installation.control.osc.receiver import Receiver
from installation.control.osc.schedule import Scheduler
from installation.control.osc.server import OscServer
from installation.control.osc.space import AddressSpace
from installation.params import REGISTRY

PACKETS = 100_000


def corpus() -> list[bytes]:
    messages = [
        encode_message("/walk/speed", [0.5]),
        encode_message("/norm/walk/speed", [1]),
        encode_message("/walk/paused", [True]),
        encode_message("/hud/visible", ["on"]),
        encode_message("/screenshot"),
        encode_message("/status"),
        encode_message("/walk/*", [0.1]),
        encode_message("/{walk,hud}/[a-z]*", [0.2, 3, "x", False]),
        b"/a\x00\x00,[ii]\x00\x00\x00" + struct.pack(">ii", 1, 2),
        b"/b\x00\x00,bhdtrm\x00" + struct.pack(">i", 3) + b"abc\x00" + b"\x00" * 32,
    ]
    bundles = [
        encode_bundle(messages[:4]),
        encode_bundle(
            [messages[0], encode_bundle(messages[4:6], unix_to_ntp(2e9))], unix_to_ntp(1.9e9)
        ),
        encode_bundle([encode_bundle([encode_bundle([messages[1]])])]),
    ]
    return messages + bundles


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and data:  # flip bits
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # a random byte, often a special one
            data[rng.randrange(len(data))] = rng.choice(
                [0, 0xFF, 0x2C, 0x2F, 0x5B, 0x5D, 0x80, rng.randrange(256)]
            )
        elif op == 2:  # truncate
            del data[rng.randrange(len(data) + 1) :]
        elif op == 3:  # insert junk
            i = rng.randrange(len(data) + 1)
            data[i:i] = rng.randbytes(rng.randrange(1, 9))
        elif op == 4 and len(data) >= 4:  # overwrite a 32-bit field (sizes, ints)
            i = rng.randrange(0, len(data) - 3) & ~3
            data[i : i + 4] = struct.pack(
                ">i", rng.choice([-1, 0, 3, 1 << 30, -(1 << 31), rng.randrange(1 << 16)])
            )
        elif op == 5:  # splice with another packet
            other = rng.choice(seeds)
            data = data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]
        else:  # duplicate a chunk
            if data:
                i = rng.randrange(len(data))
                data[i:i] = data[i : i + rng.randrange(1, 64)]
    return bytes(data)


def test_100k_mutated_packets_never_escape_the_receiver() -> None:
    config = OscConfig(rate_limit=0, queue=256)
    receiver = Receiver(AddressSpace(REGISTRY), config)
    scheduler = Scheduler(REGISTRY)
    rng = random.Random(1234)
    seeds = corpus()
    targets = REGISTRY.initial_values()
    for i in range(PACKETS):
        receiver.handle(mutate(rng, seeds), ("127.0.0.1", 4000 + i % 7))
        if i % 64 == 0:
            for event in scheduler(receiver.events.drain(), targets, 1e12):
                assert event.target in REGISTRY.params or event.target in REGISTRY.actions
    c = receiver.counters
    assert c["packets"] == PACKETS
    assert c["internal"] == 0
    dropped = receiver.dropped_by_reason()
    # The mutations reach every parse path, not just the first check.
    for reason in ("malformed", "bad_string", "type_tag", "bundle", "unknown_address", "bad_args"):
        assert dropped[reason] > 0, reason
    assert c["messages"] > 0 and scheduler.pending <= scheduler.max_pending


def test_a_real_server_survives_a_fuzzed_stream_and_answers_a_probe() -> None:
    server = OscServer(OscConfig(port=0, rate_limit=0, oscquery={"enabled": False}), REGISTRY)
    server.start()
    assert server.address is not None
    port = server.address[1]
    rng = random.Random(99)
    seeds = corpus()
    sender, probe = udp_socket(), udp_socket()
    tcp = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        for _ in range(2000):
            packet = mutate(rng, seeds)
            sender.sendto(packet, ("127.0.0.1", port))
        tcp.sendall(rng.randbytes(4096) + b"\xc0")  # garbage on the TCP stream too
        assert wait_for(lambda: server.receiver.counters["packets"] >= 1500)
        server.receiver.events.drain()  # what a render loop would do
        probe.sendto(encode_message("/status"), ("127.0.0.1", port))
        got = receive_messages(probe, count=3)
        assert got["/status/osc/dropped/internal"] == (0,)
        assert server._thread is not None and server._thread.is_alive()
    finally:
        tcp.close()
        sender.close()
        probe.close()
        server.stop()
