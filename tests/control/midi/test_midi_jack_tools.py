"""JACK's own example clients drive the show: `jack_midiseq` plays notes into it and
`jack_midi_dump` reads its feedback (Debian jackd2 ships both; skipped without them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest
from midi_helpers import Harness, midi_show

from installation.events import ControlEvent

pytestmark = [
    pytest.mark.usefixtures("jack_server"),
    pytest.mark.skipif(
        shutil.which("jack_midiseq") is None, reason="JACK's example tools are not installed"
    ),
]


def test_jack_midiseq_notes_apply_under_the_default_takeover(tmp_path):
    name = f"seq-{os.getpid()}"
    # A 2-second loop at the dummy driver's 48 kHz: note 60 at the start, held 0.5 s.
    seq = subprocess.Popen(
        ["jack_midiseq", name, "96000", "0", "60", "24000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        mappings = [
            {"note": 60, "mode": "velocity", "target": "output.brightness"},
            {"note": 60, "mode": "gate", "target": "hud.visible"},
        ]
        with Harness(midi_show(name, mappings), tmp_path) as h:
            h.until(
                lambda: h.service.status().devices,
                timeout=20,
                what="jack_midiseq port to be opened",
            )
            h.until(lambda: h.targets["hud.visible"] == 1.0, what="the note's gate on")
            assert 0.0 < h.targets["output.brightness"] <= 1.0
            h.until(lambda: h.targets["hud.visible"] == 0.0, what="the note-off")
            # The velocity applied though pickup (the show's default) was never "reached".
            assert any(
                e.target == "output.brightness" and e.source.startswith("midi:") for e in h.seen
            )
    finally:
        seq.terminate()
        seq.wait(timeout=10)


@pytest.mark.skipif(
    shutil.which("jack_midi_dump") is None, reason="jack_midi_dump is not installed"
)
def test_jack_midi_dump_reads_feedback(device, tmp_path):
    dev = device("fb", feedback=False)
    dump_name = f"dump-{os.getpid()}"
    # Line-buffered: its C stdio would hold the lines back in a pipe.
    dump = subprocess.Popen(
        ["stdbuf", "-oL", "jack_midi_dump", dump_name],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(dump.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        show = midi_show(
            dev.name,
            [
                {"cc": 7, "target": "output.brightness", "takeover": "none", "feedback": True},
                {"cc": 8, "target": "walk.speed", "takeover": "none"},
            ],
            device={"output": f"{dump_name}:input"},
        )
        with Harness(show, tmp_path) as h:
            h.connected(dev)
            h.until(lambda: h.service.feedback_tables(), what="the feedback output to open")
            value = 0.0

            def dumped() -> bool:
                nonlocal value
                value = 0.25 if value != 0.25 else 0.75
                h.hooks.events.put(ControlEvent("output.brightness", value))
                h.settle(0.05)
                # jack_midi_dump prints "   0: b0 07 20 control change (channel  0) ..."
                return any(f"b0 07 {round(value * 127):02x}" in line for line in lines)

            h.until(dumped, what=f"jack_midi_dump to print the CC; got {lines[-3:]}")
    finally:
        dump.terminate()
        dump.wait(timeout=10)
        reader.join(timeout=5)
        dump.stdout.close()
