"""The instrument's lines on the HUD: tempo, scene and cue, loop, directions, morph,
replay and recording, and short-lived notes (stored, renamed, skipped)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from installation.instruments.instrument import Instrument


def loop_line(inst: Instrument, values: Mapping[str, float]) -> str | None:
    frames = inst.desk.loop_keyframes()
    if values.get("loop.on", 0.0) < 0.5 or not frames:
        return None
    if values.get("loop.sync", 0.0) >= 0.5 and inst.tempo.state.known:
        turn = f"{values.get('loop.beats', 16.0):.0f} beats"
    else:
        turn = f"{values.get('loop.period', 16.0):.1f} s"
    spot = (inst.phase % len(frames)) + 1
    return f"loop {len(frames)} keyframes, {turn} a turn, at {spot:.2f}"


def direction_line(inst: Instrument, values: Mapping[str, float]) -> str | None:
    d = inst.directions
    if d is None:
        return None
    pushed = [
        f"{i}:{values.get(f'direction.{i}', 0.0):+.1f}"
        for i in range(1, d.vectors.shape[0] + 1)
        if abs(values.get(f"direction.{i}", 0.0)) >= 0.05
    ]
    return "directions " + ("  ".join(pushed) if pushed else "(none pushed)")


def hud_lines(inst: Instrument) -> list[str]:
    lines: list[str | None] = []
    show_now = None if inst.t0 is None else inst.t0 + inst.t
    if show_now is not None:
        lines.append(inst.tempo.describe(show_now, inst.config.beats_per_bar))
    lines += [inst.desk.describe(), loop_line(inst, inst.values), direction_line(inst, inst.values)]
    if inst.morph is not None and show_now is not None:
        lines.append(f"morph to {inst.morph.label}: {100 * inst.morph.progress(show_now):3.0f}%")
    if inst.replay is not None:
        skipped = f", {inst.replay.skipped} line(s) skipped" if inst.replay.skipped else ""
        lines.append(f"replay {inst.t:6.1f}/{inst.replay.end:.1f} s{skipped}")
    if inst.recorder is not None:
        lines.append(f"recording {inst.recorder.path.name}: {inst.recorder.lines} lines")
    lines.append(inst.desk.writer.failed)
    for part in (inst.link, inst.audio):
        if part is not None:
            lines.append(part.describe())
    now = time.monotonic()
    lines += [text for until, text in inst.notes if until > now]
    return [line for line in lines if line]
