"""Live changes to a playing instrument: an edited `performance:` section or scene file.

kiosk/reload.py validates the edit on its own thread and hands it over whole; these run on
the render thread at a frame boundary. Nothing here jumps: envelopes keep their levels, and
new loop keyframes are reached through the same latent morph a recall uses.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from installation.instruments.config import PerformanceConfig
from installation.instruments.envelope import EnvelopeBank
from installation.instruments.instrument import Instrument
from installation.instruments.scenes import SceneBook


def reconfigure(inst: Instrument, perf: PerformanceConfig) -> None:
    """The live keys of `performance:`: morph timing and quantize, the loop's spline,
    envelopes (an unchanged follower keeps its level, a new one starts at rest). `morph_s`
    reaches the show as the default of `morph.time` (the reloader's registry)."""
    old, inst.config = inst.config, perf
    if perf.envelopes == old.envelopes:
        return
    levels = {
        env.model_dump_json(): level
        for env, level in zip(inst.envelopes.configs, inst.envelopes.levels, strict=True)
    }
    bank = EnvelopeBank(inst.registry, perf.envelopes)
    bank.levels = [levels.get(env.model_dump_json(), 0.0) for env in bank.configs]
    inst.envelopes = bank


def _same_keyframes(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=False)
    )


def replace_book(
    inst: Instrument, book: SceneBook, targets: Mapping[str, float], now: float
) -> None:
    """The scene book read back from an edited file. The cue stays on the scene of the same
    name; when the loop plays and its keyframes changed, the picture glides to the new loop."""
    desk, old = inst.desk, inst.desk.book
    book.read_only = old.read_only
    cue = desk.cue
    name = old.scenes[cue].name if cue is not None and cue < len(old.scenes) else None
    desk.book = book
    desk.cue = next((i for i, s in enumerate(book.scenes) if s.name == name), None)
    looping = targets.get("loop.on", 0.0) >= 0.5
    if looping and inst.morph is None and not _same_keyframes(old.keyframes, book.keyframes):
        inst.start_morph(now, targets, {}, "scene file: new keyframes")
    for line in book.skipped:
        inst.note(f"scene skipped: {line}", 30.0)
    inst.note(
        f"scene file reloaded: {len(book.scenes)} scene(s), {len(book.keyframes)} keyframe(s)"
    )
