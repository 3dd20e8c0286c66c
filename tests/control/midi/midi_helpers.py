"""Helpers for the MIDI tests: virtual JACK devices and a harness around the MIDI service."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from installation.app import connect_midi
from installation.config.show import parse_show
from installation.control.midi.jack import VirtualOutput
from installation.control.midi.ports import retire_input
from installation.params import REGISTRY, apply_events
from installation.render.loop import LoopHooks
from installation.stats import StatsWriter

REPO = Path(__file__).resolve().parents[3]
_names = itertools.count(1)


class FakeDevice:
    """A virtual MIDI controller on JACK: an output the show reads (jack.VirtualOutput, the
    benchmarks' stand-in controller), and an input the show may light."""

    def __init__(
        self, stem: str = "fake", *, feedback: bool = False, name: str | None = None
    ) -> None:
        import rtmidi

        self.name = name or f"{stem}-{os.getpid()}-{next(_names)}"
        self.received: list[list[int]] = []
        self._lock = threading.Lock()
        self._out: VirtualOutput | None = VirtualOutput(self.name, "ctl")
        self._in = None
        if feedback:
            self._in = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=f"{self.name}-leds")
            self._in.ignore_types(sysex=False)
            self._in.set_callback(self._got)
            self._in.open_virtual_port("leds")

    @property
    def feedback_port(self) -> str:
        return f"{self.name}-leds"

    def _got(self, event, _data) -> None:
        with self._lock:
            self.received.append(event[0])

    def messages(self) -> list[list[int]]:
        with self._lock:
            return list(self.received)

    def send(self, *data: int) -> None:
        assert self._out is not None, "the device was closed"
        self._out.send(list(data))

    def cc(self, number: int, value: int, channel: int = 1) -> None:
        self.send(0xB0 | (channel - 1), number, value)

    def close(self) -> None:
        if self._out is None:
            return
        self._out.close()
        if self._in is not None:
            # As the show closes its inputs: no cancel_callback under JACK's feet (ports.py).
            self._in.close_port()
            retire_input(self._in)
        self._out = self._in = None


class Harness:
    """The MIDI service as the show builds it, with the loop's mapping step run by hand."""

    def __init__(self, show_data: dict, tmp_path: Path, queue_size: int = 10_000) -> None:
        from installation.events import EventQueue

        self.show = parse_show(show_data, base_dir=tmp_path)
        self.registry = REGISTRY.with_overrides(self.show.param_overrides())
        self.hooks = LoopHooks(events=EventQueue(queue_size))
        self.stats_path = tmp_path / "stats.jsonl"
        self.stats = StatsWriter(self.stats_path)
        service = connect_midi(self)  # wired as app.py wires the show (duck-typed runtime)
        assert service is not None
        self.service = service
        self.mapper = self.hooks.mappers[-1]
        self.targets = self.registry.initial_values()
        self.seen: list = []

    def __enter__(self) -> Harness:
        self.service.start()
        return self

    def __exit__(self, *exc) -> None:
        self.service.stop()
        self.stats.close()

    def step(self) -> list:
        events = self.hooks.events.drain()
        for mapper in self.hooks.mappers:
            events = mapper(events, self.targets, time.monotonic())
        old = self.targets
        self.targets, actions = apply_events(self.registry, self.targets, events)
        changed = {k: v for k, v in self.targets.items() if old.get(k) != v}
        if changed or actions:
            for send in self.hooks.feedback:
                send(changed, events)
        self.seen += events
        return events

    def until(
        self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
    ) -> float:
        """Step like the loop (every 5 ms) until predicate() holds; returns the seconds taken."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            self.step()
            if predicate():
                return time.monotonic() - start
            time.sleep(0.005)
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what}; targets {self.targets}; "
            f"{self.service.status()}"
        )

    def until_sent(
        self,
        send: Callable[[], None],
        predicate: Callable[[], bool],
        timeout: float = 10.0,
        what: str = "condition",
    ) -> float:
        """Send again every 100 ms until predicate() holds (a flood may have filled the
        sender's buffer, which then drops what comes next, like a saturated cable)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            send()
            for _ in range(20):
                self.step()
                if predicate():
                    return time.monotonic() - start
                time.sleep(0.005)
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what}; targets {self.targets}; "
            f"{self.service.status()}"
        )

    def settle(self, seconds: float = 0.2) -> None:
        """Keep stepping for a while (to show that something does NOT happen)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()
            time.sleep(0.005)

    def received(self, count: int, timeout: float = 10.0) -> None:
        """Wait until the service has decoded `count` messages, then apply them."""
        self.until(lambda: self.service.status().messages >= count, timeout, f"{count} messages")
        self.step()

    def connected(self, device: FakeDevice, timeout: float = 10.0) -> None:
        self.until(
            lambda: any(d.startswith(device.name) for d, _ in self.service.status().devices),
            timeout,
            f"{device.name} to be connected",
        )


def midi_show(port: str, mappings: list[dict], **midi) -> dict:
    return {
        "midi": {
            "api": "jack",
            "poll_s": midi.pop("poll_s", 0.2),
            "devices": [{"port": port, "profile": "none", **midi.pop("device", {})}],
            "mappings": mappings,
            **midi,
        }
    }
