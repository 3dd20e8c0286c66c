"""`installation bench` degrades: a skipped or failing benchmark costs only its own figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from installation import bench
from installation.cli import main


def _fake_benchmarks() -> list[bench.Benchmark]:
    def good(ctx: bench.BenchContext) -> dict[str, float]:
        return {"good_ms": 1.5}

    def needs_jack(ctx: bench.BenchContext) -> dict[str, float]:
        raise bench.Skipped("needs a JACK server")

    def broken(ctx: bench.BenchContext) -> dict[str, float]:
        raise RuntimeError("only 3 of 60 messages reached a frame")

    def also_good(ctx: bench.BenchContext) -> dict[str, float]:
        return {"also_good": 2.0}

    return [
        bench.Benchmark(("good_ms",), good),
        bench.Benchmark(("jack_ms",), needs_jack),
        bench.Benchmark(("broken_ms",), broken),
        bench.Benchmark(("also_good",), also_good),
    ]


@pytest.mark.parametrize("only,code", [(None, 1), (["good_ms", "jack_ms"], 0)])
def test_skipped_and_failed_figures_are_reported_and_the_rest_measured(
    monkeypatch, tmp_path: Path, show_file: Path, capsys, only, code
) -> None:
    monkeypatch.setattr(bench, "discover", _fake_benchmarks)
    out = tmp_path / "bench.json"
    argv = ["bench", str(show_file), "--json", str(out), "-q"]
    for name in only or ():
        argv += ["--only", name]
    assert main(argv) == code  # 1 only when a figure failed; a skip is not a failure
    figures = json.loads(out.read_text())
    err = capsys.readouterr().err
    assert figures["good_ms"] == 1.5 and "jack_ms" not in figures
    assert "skipped jack_ms: needs a JACK server" in err
    if only is None:
        assert figures["also_good"] == 2.0  # measured after the failure
        assert "FAILED broken_ms: RuntimeError: only 3 of 60" in err


def test_every_shipped_benchmark_is_found_in_the_package() -> None:
    names = {n for b in bench.discover() for n in b.names}
    assert {"midi_to_photon_p50_ms", "display_ms_1080p"} <= names
