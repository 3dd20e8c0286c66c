"""`installation bench`: the one place figures come from.

Benchmarks live in the repository's `benchmarks/` folder, one module per subject. Each
registers functions with `@benchmark("name", ...)` naming the figures it reports; a function
takes a `BenchContext` and returns {name: number}. Figures that are compared (a ratio) are
measured side by side in one run, because this kind of machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
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


def input_to_photon_ms(frames: list[dict], sends: list[float], source: Callable[[str], bool]) -> list[float]:
    """Milliseconds from each send (monotonic times, in order) to the first presented frame
    that applied an input from a matching source received after it and before the next send.
    Uses the stats contract: frame lines carry `t` and `inputs` (with `received`, `source`)."""
    applied = sorted((i["received"], f["t"]) for f in frames for i in f.get("inputs", ())
                     if source(i["source"]))
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


def benchmarks_dir() -> Path:
    """`benchmarks/` beside the package (a source checkout), else in the working directory."""
    here = Path(__file__).resolve().parent.parent / "benchmarks"
    return here if here.is_dir() else Path.cwd() / "benchmarks"


def discover() -> list[Benchmark]:
    if REGISTERED:
        return REGISTERED
    folder = benchmarks_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"no benchmarks/ folder at {folder}: run from a source checkout")
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"installation_benchmarks.{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
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
    ctx = BenchContext(show=load_show(args.show), show_path=Path(args.show))
    figures: dict[str, float] = {}
    for b in benches:
        log.info("benchmark %s ...", ", ".join(b.names))
        result = b.fn(ctx)
        for name, value in result.items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"benchmark {name} returned {value!r}, not a finite number")
            figures[name] = float(value)
            log.info("  %s = %.4g", name, value)
    text = json.dumps(figures, indent=2, sort_keys=True) + "\n"
    if args.json_path:
        args.json_path.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0
