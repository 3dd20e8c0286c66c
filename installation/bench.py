"""`installation bench`: the one place figures come from.

Benchmarks live in `installation/benchmarks/` (so an installed package has them), one
module per subject. Each registers functions with `@benchmark("name", ...)` naming the
figures it reports; a function takes a `BenchContext` and returns {name: number}. Figures
that are compared (a ratio) are measured side by side in one run, because this kind of
machine is shared and noisy.

A benchmark whose prerequisite is missing (no JACK server, no GPU) raises `Skipped` with
the reason; one that fails is reported with its error. Either way the others are still
measured, and the exit code is 1 when any figure failed (skipped ones do not count).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from installation.config.show import Show, load_show

log = logging.getLogger(__name__)

BenchFn = Callable[["BenchContext"], dict[str, float]]


@dataclass(frozen=True)
class Benchmark:
    names: tuple[str, ...]
    fn: BenchFn


REGISTERED: list[Benchmark] = []


def benchmark(*names: str) -> Callable[[BenchFn], BenchFn]:
    def register(fn: BenchFn) -> BenchFn:
        REGISTERED.append(Benchmark(tuple(names), fn))
        return fn

    return register


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (q in 0..1) of `values`, nearest rank: one definition for every figure."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def phase_p99_frame_ms(
    frames: list[dict], phases: list[tuple[str, float, float]], name: str
) -> float:
    """p99 frame time (present to present) of the frames inside the phases called `name`,
    each phase a (name, start, end) on the stats' clock: for flood-over-idle ratios."""
    times = [
        f["frame_ms"]
        for f in frames
        for n, a, b in phases
        if n == name and a <= f["t"] <= b and f["frame_ms"] > 0
    ]
    return percentile(times, 0.99)


def input_to_photon_ms(
    frames: list[dict], sends: list[float], source: Callable[[str], bool]
) -> list[float]:
    """Milliseconds from each send (monotonic times, in order) to the first presented frame
    that applied an input from a matching source received after it and before the next send.
    Uses the stats contract: frame lines carry `t` and `inputs` (with `received`, `source`)."""
    applied = sorted(
        (i["received"], f["t"]) for f in frames for i in f.get("inputs", ()) if source(i["source"])
    )
    latencies = []
    for sent, next_sent in zip(sends, [*sends[1:], float("inf")], strict=True):
        shown = next((t for received, t in applied if sent <= received < next_sent), None)
        if shown is not None:
            latencies.append((shown - sent) * 1000.0)
    return latencies


@dataclass
class BenchContext:
    show: Show
    show_path: Path
    soak_minutes: float | None = None  # the kiosk soak's length (benchmarks/soak.py)


class Skipped(Exception):
    """A benchmark cannot run here (a prerequisite is missing); the message says which."""


def discover() -> list[Benchmark]:
    """Import every module of installation.benchmarks; each registers its benchmarks."""
    import installation.benchmarks as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    return REGISTERED


def run_benchmarks(args: argparse.Namespace) -> int:
    benches = discover()
    if args.list:
        for b in benches:
            sys.stdout.write(" ".join(b.names) + "\n")
        return 0
    if args.only:
        unknown = set(args.only) - {n for b in benches for n in b.names}
        if unknown:
            known = ", ".join(sorted(n for b in benches for n in b.names))
            from installation.errors import UserError

            raise UserError(f"unknown benchmark {sorted(unknown)}; known: {known}")
        benches = [b for b in benches if set(b.names) & set(args.only)]
    ctx = BenchContext(
        show=load_show(args.show),
        show_path=Path(args.show),
        soak_minutes=getattr(args, "soak_minutes", None),
    )
    figures: dict[str, float] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    for b in benches:
        label = ", ".join(b.names)
        log.info("benchmark %s ...", label)
        try:
            result = _measure(b, ctx)
        except Skipped as exc:
            log.warning("skipped %s: %s", label, exc)
            skipped[label] = str(exc)
            continue
        except Exception as exc:  # one broken figure must not cost the others
            log.error("failed %s: %s", label, exc, exc_info=True)
            failed[label] = f"{type(exc).__name__}: {exc}"
            continue
        for name, value in result.items():
            figures[name] = float(value)
            log.info("  %s = %.4g", name, value)
    text = json.dumps(figures, indent=2, sort_keys=True) + "\n"
    if args.json_path:
        args.json_path.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    for label, why in skipped.items():
        sys.stderr.write(f"installation bench: skipped {label}: {why}\n")
    for label, why in failed.items():
        sys.stderr.write(f"installation bench: FAILED {label}: {why}\n")
    return 1 if failed else 0


def _measure(b: Benchmark, ctx: BenchContext) -> dict[str, float]:
    result = b.fn(ctx)
    for name, value in result.items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"benchmark {name} returned {value!r}, not a finite number")
    return result
