"""MIDI latency: from a control change leaving a device to the first frame that shows it.

midi_to_photon_p50_ms / _p99_ms (and _gen_ms, the generator's median time in those frames)
    A virtual device on a JACK server sends CC 7 (mapped to output.brightness, no takeover)
    at irregular intervals into the real show (the show's own model, size and 60 fps cap,
    dummy display). Each send is timed just before it leaves; the frame that reflects it is
    the first stats frame line whose `inputs` holds that MIDI event (its `received` stamp
    falls after the send), and the latency is that frame's `t` (taken after present) minus
    the send time. It includes JACK's buffering (one period, 5.3 ms at -p 256), the wait for
    the next frame's input drain and that frame's generate + present.

Needs a JACK server: a running one, or one started here if jackd is installed; without
either the figures are skipped, with the reason (no figure rather than a made-up one).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, Skipped, benchmark, input_to_photon_ms, percentile
from installation.control.midi import jack
from installation.control.midi.config import MidiConfig, MidiDevice, MidiMapping
from installation.control.midi.service import MidiService
from installation.stats import read_stats

SENDS = 240
WARMUP_S = 1.5
FPS = 60.0


def _ensure_jack() -> object | None:
    """A JACK server to use: None if one runs, else the process of one started here."""
    if jack.server_running():
        return None
    if jack.jackd_path() is None:
        raise Skipped(
            "needs a JACK server for real MIDI: install jackd2 "
            "(apt-get install jackd2) or start one (jackd -d dummy)"
        )
    name = f"installation-bench-{os.getpid()}"
    proc = jack.start_server(name)
    os.environ["JACK_DEFAULT_SERVER"] = name
    return proc


@benchmark("midi_to_photon_p50_ms", "midi_to_photon_p99_ms", "midi_to_photon_gen_ms")
def midi_to_photon(ctx: BenchContext) -> dict[str, float]:
    proc = _ensure_jack()
    sender = jack.VirtualOutput(f"bench-device-{os.getpid()}")
    port = sender.name
    midi = MidiConfig(
        api="jack",
        poll_s=0.2,
        devices=[MidiDevice(port=port, profile="none")],
        mappings=[MidiMapping(cc=7, target="output.brightness", takeover="none")],
    )
    show = ctx.show.model_copy(update={"midi": midi})
    rng = random.Random(0)
    gaps = [rng.uniform(0.025, 0.060) for _ in range(SENDS)]  # irregular: all frame phases
    sent: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stats = Path(tmp) / "stats.jsonl"
            seconds = WARMUP_S + sum(gaps) + 1.0
            runtime = ShowRuntime(
                show, RunOptions(headless=True, fps=FPS, seconds=seconds, stats=stats)
            )
            try:
                loop = runtime.build_loop()
                runtime.start_services()
                service = next(s for s in runtime.services if isinstance(s, MidiService))

                def perform() -> None:
                    start = time.monotonic()
                    while not service.status().devices and time.monotonic() - start < WARMUP_S:
                        time.sleep(0.01)
                    time.sleep(max(0.0, WARMUP_S - (time.monotonic() - start)))
                    for i, gap in enumerate(gaps):
                        sent.append(time.monotonic())
                        sender.send([0xB0, 7, (i * 37) % 128])
                        time.sleep(gap)

                performer = threading.Thread(target=perform, daemon=True)
                performer.start()
                loop.run()
                performer.join()
            finally:
                runtime.close()
            frames, _events = read_stats(stats)
    finally:
        sender.close()
        if proc is not None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
            jack.stop_server(proc)  # type: ignore[arg-type]
    latencies = input_to_photon_ms(frames, sent, lambda source: source == f"midi:{port}")
    if len(latencies) < SENDS * 0.9:
        raise RuntimeError(f"only {len(latencies)} of {SENDS} MIDI messages reached a frame")
    window = [f["gen_ms"] for f in frames if sent and sent[0] <= f["t"] <= sent[-1]]
    return {
        "midi_to_photon_p50_ms": statistics.median(latencies),
        "midi_to_photon_p99_ms": percentile(latencies, 0.99),
        # The generator's share, from the same frames: p50 should be about a frame
        # period (or one frame's work, when slower) plus this.
        "midi_to_photon_gen_ms": statistics.median(window),
    }
