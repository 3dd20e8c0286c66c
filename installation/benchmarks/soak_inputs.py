"""What the soak throws at the show (benchmarks/soak.py): OSC with malformed packets, corrupt
checkpoints, and MIDI from a virtual controller that is unplugged and plugged back, on a
JACK server that is killed and restarted once."""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import struct
import threading
import time
from pathlib import Path

from installation.control.midi import jack

log = logging.getLogger(__name__)


class OscTraffic:
    """OSC at `rate` msg/s, `bad` of them malformed; a corrupt checkpoint every 30 s."""

    def __init__(self, port: int, drop: Path, rate: float = 100, bad: float = 0.05) -> None:
        self.port, self.drop, self.rate, self.bad = port, drop, rate, bad
        self.sent = self.malformed = self.corrupt = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-osc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        rng = random.Random(0)
        next_drop = time.monotonic() + 30
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not self._stop.wait(1 / self.rate):
                if rng.random() < self.bad:
                    packet, self.malformed = rng.randbytes(rng.randint(1, 64)), self.malformed + 1
                else:
                    value = 0.1 + 0.4 * rng.random()
                    packet = b"/walk/speed\0,f\0\0" + struct.pack(">f", value)
                sock.sendto(packet, ("127.0.0.1", self.port))
                self.sent += 1
                if time.monotonic() >= next_drop:
                    next_drop += 30
                    self._drop_corrupt()

    def _drop_corrupt(self) -> None:
        self.corrupt += 1
        folder = self.drop / f"corrupt-{self.corrupt}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(os.urandom(4096))
        (folder / "card.json").write_text(
            json.dumps({"name": "corrupt", "architecture": "dcgan", "step": self.corrupt})
        )


class MidiTraffic:
    """A virtual controller on a JACK server of the soak's own (never one that runs already:
    this one is killed): CC 7 at `rate` msg/s, `bad` of the sends bytes that are no MIDI
    message; every `replug_s` the device is unplugged for `gone_s` (longer than the show's
    port poll) and plugged back under the same name; at `kill_at_s` after start the server
    is SIGKILLed and, `gone_s` later, started again under the same name."""

    def __init__(
        self,
        rate: float = 20,
        bad: float = 0.02,
        replug_s: float = 60,
        gone_s: float = 2.0,
        kill_at_s: float | None = None,
    ) -> None:
        self.rate, self.bad, self.replug_s, self.gone_s = rate, bad, replug_s, gone_s
        self.kill_at_s = kill_at_s
        self.server_name = f"installation-soak-{os.getpid()}"
        self.client = f"soak-device-{os.getpid()}"
        self.port = f"{self.client}:ctl"
        self.sent = self.garbage = self.unplugs = self.server_kills = 0
        self._server = None
        self._device: jack.VirtualOutput | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-midi", daemon=True)

    @property
    def env(self) -> dict[str, str]:
        """For the show: the server to find the device on."""
        return {"JACK_DEFAULT_SERVER": self.server_name}

    def start_server(self) -> None:
        """Before the show starts (it looks for the server once it runs)."""
        os.environ["JACK_DEFAULT_SERVER"] = self.server_name  # our own rtmidi client's too
        jack.route_libjack_messages()  # the dead server's complaints, as log lines
        self._server = jack.start_server(self.server_name)
        self._device = jack.VirtualOutput(self.client)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._unplug()
        if self._server is not None:
            jack.stop_server(self._server)
            self._server = None

    def _unplug(self) -> None:
        if self._device is not None:
            self._device.close()
            self._device = None

    def _run(self) -> None:
        rng = random.Random(1)
        started = time.monotonic()
        next_replug = started + self.replug_s
        kill_at = None if self.kill_at_s is None else started + self.kill_at_s
        while not self._stop.wait(1 / self.rate):
            now = time.monotonic()
            if kill_at is not None and now >= kill_at:
                kill_at = None
                self._kill_server()
                continue
            if now >= next_replug:
                next_replug = now + self.replug_s
                self._unplug()
                self.unplugs += 1
                if self._stop.wait(self.gone_s):
                    return
                self._device = jack.VirtualOutput(self.client)
                continue
            if rng.random() < self.bad:  # a lone data byte, or an undefined status byte
                message, self.garbage = [rng.choice([0x45, 0xF4, 0xF5, 0xFD])], self.garbage + 1
            else:
                message = [0xB0, 7, rng.randint(64, 127)]  # brightness 0.5-1: never black
            self._device.send(message)
            self.sent += 1

    def _kill_server(self) -> None:
        log.info("soak: SIGKILL of the JACK server %s", self.server_name)
        self._server.kill()
        self._server.wait()
        jack.stop_server(self._server)  # only closes its log now
        self.server_kills += 1
        self._unplug()  # our client died with the server
        if self._stop.wait(self.gone_s):
            return
        self._server = jack.start_server(self.server_name)
        self._device = jack.VirtualOutput(self.client)
        log.info("soak: the JACK server is back")
