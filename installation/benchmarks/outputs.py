"""Video-output figures: what sending, recording and screenshots cost the render loop.

All at 1920x1080 with a 60 fps cap, headless (the dummy display still scales every frame
into a 1920x1080 window surface, as a real window would). Each ratio is the loop's p99
frame time (present to present) with the feature on over off, in rounds that alternate
off/on so that the shared machine's load falls on both sides alike.

output_ndi_frame_ms_ratio   an NDI output (size display, bgra) with an NDI receiver (in
                            its own process, ndi_peer.py) on loopback, over no output; <= 1.15
output_ndi_fps_fraction     frames that receiver read / frames the show presented; >= 0.98
output_ndi_sent_fraction    frames our NDI output handed to NDI / presented (the rest it
                            dropped and counted)
output_ndi_arrived_fraction frames that reached NDI's receiver / presented (NDI's counter):
                            sent > arrived is loss on the wire, arrived > read a slow reader
output_ndi_receiver_cpu_share, output_ndi_receiver_wait_share, output_ndi_show_wait_share
                            seconds the receiver ran, and the receiver and the show waited
                            runnable for a CPU (Linux schedstat), per second of the round:
                            a wait share near 1 is a process starved of CPU
record_frame_ms_ratio       an H.264 recording (kind file, preset ultrafast) over none; <= 1.2
screenshot_frame_ms_ratio   a screenshot every 20 frames (3 a second) over none; <= 1.1
screenshot_present_extra_ms what a screenshot adds to its frame's present (the render
                            thread's own cost: median present ms on screenshot frames minus
                            on the others, in the same rounds; robust to the machine's load)
screenshot_saved_fraction   of those, saved by the writer process (the rest it skipped while
                            busy with earlier ones: at nice 10 on a loaded machine it is slow)
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from installation.app import RunOptions, ShowRuntime
from installation.bench import BenchContext, Skipped, benchmark, percentile
from installation.config.show import Show
from installation.events import ControlEvent
from installation.render.outputs.base import unavailable
from installation.render.outputs.config import FileOutput, NdiOutput
from installation.render.outputs.ndi_peer import sched_seconds
from installation.stats import read_stats

log = logging.getLogger(__name__)

ROUNDS = 3
FRAMES = 180  # 3 s a round at 60 fps
SIZE = (1920, 1080)


def _p99_frame_ms(path: Path) -> float:
    frames, _ = read_stats(path)
    return percentile([f["frame_ms"] for f in frames[10:] if f["frame_ms"] > 0], 0.99)


def _round(
    show: Show, outputs: list, folder: Path, tag: str, screenshot_every: int = 0, peer=None
) -> tuple[float, dict[str, float]]:
    """One round: (p99 frame ms, counters: frames shown, and with a peer what it read)."""
    # Only the outputs differ between rounds; control services would only add their noise.
    show = show.model_copy(
        update={
            "outputs": outputs,
            "osc": show.osc.model_copy(update={"enabled": False}),
            "midi": show.midi.model_copy(update={"enabled": False}),
            "training": show.training.model_copy(update={"enabled": False}),
        }
    )
    stats = folder / f"{tag}-{time.monotonic_ns()}.jsonl"
    runtime = ShowRuntime(show, RunOptions(headless=True, fps=60, size=SIZE, stats=stats))
    try:
        loop = runtime.build_loop()
        runtime.start_services()
        asked = []
        if screenshot_every:
            loop.settings.screenshot_dir = folder / "shots"
            writer = runtime.hooks.outputs.screenshots
            deadline = time.monotonic() + 30  # the writer process starts with the show
            while writer.state == "starting" and time.monotonic() < deadline:
                time.sleep(0.01)

            def shoot(events, targets, now):
                if loop.frame % screenshot_every == screenshot_every - 1:
                    asked.append(loop.frame)
                    return [*events, ControlEvent("screenshot", 1.0)]
                return events

            loop.hooks.mappers = (*loop.hooks.mappers, shoot)
        if peer is not None:  # the receiver (re)connects to this round's sender first
            deadline = time.monotonic() + 20
            start = peer.count
            while peer.count < start + 5 and time.monotonic() < deadline:
                loop.step()
            if peer.count < start + 5:
                raise Skipped(
                    "the NDI receiver found no source (no NDI discovery on this network?)"
                )
        workers = runtime.hooks.outputs.workers if runtime.hooks.outputs else []
        sent_before = workers[0].sent if workers else 0
        peer_before = peer.counters() if peer is not None else {}
        first, wall_before = loop.frame, time.monotonic()
        ran_before, waited_before = sched_seconds()
        loop.settings.max_frames = first + FRAMES
        loop.run()
        shown = loop.frame - first
        ran, waited = sched_seconds()
        counts = {"shown": shown, "wall_s": time.monotonic() - wall_before}
        counts.update(show_cpu_s=ran - ran_before, show_wait_s=waited - waited_before)
        if peer is not None:
            settled = time.monotonic() + 2.0  # frames still on the wire
            while peer.count - peer_before["read"] < shown and time.monotonic() < settled:
                time.sleep(0.01)
            after = peer.counters()
            counts["wall_s"] = time.monotonic() - wall_before  # the receiver's counters' span
            counts.update({k: after[k] - peer_before[k] for k in after})
            counts["sent"] = workers[0].sent - sent_before
            counts["dropped_by_output"] = workers[0].dropped
            log.info("NDI round: %s", {k: round(v, 2) for k, v in counts.items()})
    finally:
        runtime.close()
    if screenshot_every:  # (close waited for the writer to finish what it was handed)
        counts.update(asked=len(asked), saved=len(writer.saved))
        frames, _ = read_stats(stats)
        shot = [f["present_ms"] for f in frames if f["frame"] in asked]
        other = [f["present_ms"] for f in frames[10:] if f["frame"] not in asked]
        counts["extra_ms"] = percentile(shot, 0.5) - percentile(other, 0.5)
    return _p99_frame_ms(stats), counts


def _ratio(ctx: BenchContext, outputs: list, **kw) -> tuple[float, list[dict[str, float]]]:
    """(median p99 on / median p99 off, and the on rounds' counters)."""
    off, on, counts = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)  # (each round's first 10 frames are its warm-up, not counted)
        for _ in range(ROUNDS):
            off.append(_round(ctx.show, [], folder, "off")[0])
            p99, round_counts = _round(ctx.show, outputs, folder, "on", **kw)
            on.append(p99)
            counts.append(round_counts)
    return percentile(on, 0.5) / percentile(off, 0.5), counts


def _per_second(counts: list[dict[str, float]], part: str) -> float:
    return percentile([c[part] / c["wall_s"] for c in counts], 0.5)


def _median(counts: list[dict[str, float]], part: str, whole: str = "shown") -> float:
    return min(1.0, percentile([c[part] / c[whole] for c in counts], 0.5))


@benchmark(
    "output_ndi_frame_ms_ratio",
    "output_ndi_fps_fraction",
    "output_ndi_sent_fraction",
    "output_ndi_arrived_fraction",
    "output_ndi_receiver_cpu_share",
    "output_ndi_receiver_wait_share",
    "output_ndi_show_wait_share",
)
def ndi_output(ctx: BenchContext) -> dict[str, float]:
    from installation.render.outputs.ndi_peer import NdiPeerProcess, loopback_config

    loopback_config()  # before the NDI runtime starts: a container has no mDNS
    reason = unavailable("ndi")
    if reason:
        raise Skipped(reason)
    name = "installation-bench"
    with NdiPeerProcess(name) as peer:  # a receiver in its own process, as in a venue
        ratio, counts = _ratio(ctx, [NdiOutput(kind="ndi", name=name)], peer=peer)
    return {
        "output_ndi_frame_ms_ratio": ratio,
        "output_ndi_fps_fraction": _median(counts, "read"),
        "output_ndi_sent_fraction": _median(counts, "sent"),
        "output_ndi_arrived_fraction": _median(counts, "arrived"),
        # CPU seconds per second of the round (summed over threads, so may pass 1) that the
        # receiver ran, and that the receiver and the show waited runnable for a CPU
        "output_ndi_receiver_cpu_share": _per_second(counts, "cpu_s"),
        "output_ndi_receiver_wait_share": _per_second(counts, "cpu_wait_s"),
        "output_ndi_show_wait_share": _per_second(counts, "show_wait_s"),
    }


@benchmark("record_frame_ms_ratio")
def record_output(ctx: BenchContext) -> dict[str, float]:
    reason = unavailable("file")
    if reason:
        raise Skipped(reason)
    with tempfile.TemporaryDirectory() as tmp:
        output = FileOutput(kind="file", path=str(Path(tmp) / "take.mp4"), fps=60)
        ratio, _ = _ratio(ctx, [output])
    return {"record_frame_ms_ratio": ratio}


@benchmark("screenshot_frame_ms_ratio", "screenshot_saved_fraction", "screenshot_present_extra_ms")
def screenshots(ctx: BenchContext) -> dict[str, float]:
    if unavailable("file"):
        raise Skipped(unavailable("file"))
    ratio, counts = _ratio(ctx, [], screenshot_every=20)
    log.info("screenshot rounds: %s", counts)
    return {
        "screenshot_frame_ms_ratio": ratio,
        "screenshot_saved_fraction": _median(counts, "saved", "asked"),
        "screenshot_present_extra_ms": percentile([c["extra_ms"] for c in counts], 0.5),
    }
