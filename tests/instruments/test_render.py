"""Offline renders of a replay: deterministic to the byte on a CPU, with a progress bar;
MIDI clock and MIDI program changes reach the instruments."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import yaml

from installation.cli import main
from installation.control.midi.bindings import BindingTable
from installation.control.midi.decode import MidiDecoder
from installation.events import ClockTick, MidiMessage
from tests.instruments.support import Stepped, ev, show_dict


def _record(tmp_path: Path) -> Path:
    log = tmp_path / "set.jsonl"
    show = Stepped(tmp_path, record=log)
    try:
        show.run(
            30,
            {
                0: [ev("keyframe.seed", 5), ev("keyframe.seed", 6), ev("tempo", 140)],
                4: [ev("scene.store", math.nan, "a"), ev("jitter.amount", 0.3)],
                10: [ev("loop.on", 1), ev("loop.period", 1.0)],
                20: [ev("cue.jump", 1)],
            },
        )
    finally:
        show.close()
    return log


def _render(show_file: Path, log: Path, out: Path) -> int:
    args = ["render", str(show_file), "--replay", str(log), "--out", str(out)]
    return main([*args, "--size", "96x54", "--fps", "12"])


def test_two_offline_renders_are_byte_identical(tmp_path: Path, caplog) -> None:
    log = _record(tmp_path)
    show_file = tmp_path / "show.yaml"
    show_file.write_text(yaml.safe_dump(show_dict(tmp_path)), encoding="utf-8")
    outs = [tmp_path / "a", tmp_path / "b"]
    with caplog.at_level(logging.INFO):
        for out in outs:
            assert _render(show_file, log, out) == 0
    frames = sorted(p.name for p in outs[0].iterdir())
    assert len(frames) == 1 + math.floor(29 / 20 * 12)  # the log's length at 12 fps, and frame 0
    assert frames == sorted(p.name for p in outs[1].iterdir())
    for name in frames:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert len({(outs[0] / n).read_bytes() for n in frames}) > len(frames) // 2  # it moved
    assert any("render [" in r.getMessage() for r in caplog.records)  # the progress bar


def test_a_render_to_mp4_goes_through_the_encoder(tmp_path: Path) -> None:
    import av

    log = _record(tmp_path)
    show_file = tmp_path / "show.yaml"
    show_file.write_text(yaml.safe_dump(show_dict(tmp_path)), encoding="utf-8")
    out = tmp_path / "set.mp4"
    assert _render(show_file, log, out) == 0
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(stream)]
        assert (stream.codec_context.width, stream.codec_context.height) == (96, 54)
    assert len(frames) == 1 + math.floor(29 / 20 * 12)
    assert (
        sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    )  # frames cleaned up


def test_midi_clock_sets_the_tempo_and_is_recorded(tmp_path: Path) -> None:
    log = tmp_path / "clock.jsonl"
    show = Stepped(tmp_path, record=log)
    try:
        import time

        clock = ClockTick(source="midi:x", running=True, bpm=100.0, beat=8.0, at=time.monotonic())
        show.instrument.midi_clock = lambda: clock
        show.run(2)
        assert (
            show.instrument.tempo.state.bpm == 100.0
            and show.instrument.tempo.state.source == "midi clock"
        )
    finally:
        show.close()
    text = log.read_text(encoding="utf-8")
    assert text.count('"event": "tempo"') == 1 and '"bpm": 100.0' in text


def test_a_program_change_is_a_cue_when_show_yaml_has_no_scenes() -> None:
    decoder = MidiDecoder("dev", BindingTable(), scenes={})
    got = decoder.decode(MidiMessage("midi:dev", "program_change", 0, 2, 0, 0.0))  # program 3
    assert [(e.target, e.value) for e in got] == [("cue.jump", 3.0)]


def test_run_record_then_replay_from_the_command_line(tmp_path: Path) -> None:
    show_file = tmp_path / "show.yaml"
    show_file.write_text(yaml.safe_dump(show_dict(tmp_path)), encoding="utf-8")
    log = tmp_path / "cli.jsonl"
    common = ["--headless", "--fixed-step", "--fps", "20"]
    assert main(["run", str(show_file), *common, "--frames", "20", "--record", str(log)]) == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert '"event": "start"' in lines[0] and '"event": "end"' in lines[-1]
    assert main(["replay", str(show_file), str(log), *common, "--frames", "200"]) == 0
