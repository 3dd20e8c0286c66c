"""The CLI's small commands and the generated README blocks."""

from __future__ import annotations

import json
from pathlib import Path

from installation.cli import build_parser, main
from installation.docs import render

from .conftest import REPO


def test_readme_generated_blocks_are_fresh(capsys) -> None:
    assert main(["docs", "--check"]) == 0, capsys.readouterr().err


def test_docs_check_notices_a_stale_block(tmp_path: Path) -> None:
    stale = "<!-- BEGIN GENERATED: parameters -->\nold\n<!-- END GENERATED: parameters -->\n"
    readme = tmp_path / "README.md"
    readme.write_text(stale)
    assert main(["docs", "--check", "--readme", str(readme)]) == 1
    assert main(["docs", "--readme", str(readme)]) == 0
    assert "`/walk/speed`" in readme.read_text()
    assert render(readme.read_text(), build_parser()) == readme.read_text()


def test_devices_lists_displays_torch_and_midi(capsys) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "displays:" in out and "torch devices:" in out and "cpu (" in out
    assert "MIDI ports:" in out


def test_bench_lists_its_figures(capsys) -> None:
    assert main(["bench", str(REPO / "show.yaml"), "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert {"generator_fps", "loop_fps", "loop_efficiency", "display_ms_1080p"} <= set(names)


def test_bench_unknown_name_is_a_user_error(capsys) -> None:
    assert main(["bench", str(REPO / "show.yaml"), "--only", "nope"]) == 2
    assert "unknown benchmark ['nope']" in capsys.readouterr().err


def test_bench_writes_one_finite_figure_per_name(tmp_path: Path, show_file: Path) -> None:
    out = tmp_path / "bench.json"
    assert (
        main(["bench", str(show_file), "--only", "display_ms_1080p", "--json", str(out), "-q"]) == 0
    )
    figures = json.loads(out.read_text())
    assert list(figures) == ["display_ms_1080p"] and figures["display_ms_1080p"] > 0


def test_percentile_and_input_to_photon_latency() -> None:
    from installation.bench import input_to_photon_ms, percentile

    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0 and percentile([1.0, 2.0], 0.99) == 2.0
    frames = [
        {"t": 1.010, "inputs": [{"received": 1.001, "source": "osc:a"}]},
        {"t": 1.020, "inputs": []},
        {
            "t": 2.030,
            "inputs": [
                {"received": 2.010, "source": "midi:x"},
                {"received": 2.012, "source": "osc:a"},
            ],
        },
    ]
    # The third send is never applied: it must not borrow a later frame.
    sends = [1.0, 2.0, 3.0]
    latencies = input_to_photon_ms(frames, sends, lambda s: s.startswith("osc:"))
    assert [round(x) for x in latencies] == [10, 30]


def test_devices_without_a_screen_says_so_instead_of_listing_a_fake_display() -> None:
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    }
    done = subprocess.run(
        [sys.executable, "-m", "installation", "devices"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "none (no DISPLAY or WAYLAND_DISPLAY set)" in done.stdout
    assert "offscreen" not in done.stdout and "XDG_RUNTIME_DIR" not in done.stderr
