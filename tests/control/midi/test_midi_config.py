"""Profiles, show.yaml's midi: section, learn files, replay files and life without MIDI."""

from __future__ import annotations

import logging
from pathlib import Path

import mido
import pytest
from midi_helpers import REPO, Harness

from installation.cli import main
from installation.config.show import ShowError, load_show, parse_show
from installation.control.midi import service as service_module
from installation.control.midi.config import (
    ProfileError,
    discover_profiles,
    load_profile,
    match_profile,
)
from installation.control.midi.learn import guess_encoder, infer_mapping, save_learned
from installation.control.midi.ports import (
    ALSA_SEQ,
    choose_system,
    list_ports,
    port_matches,
    stable_name,
)
from installation.params import REGISTRY


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_profiles_load_and_match_their_ports():
    profiles = discover_profiles(REPO / "controllers")
    stems = {p.stem for p in profiles}
    assert {
        "korg-nanokontrol2",
        "novation-launch-control-xl",
        "akai-apc-mini",
        "akai-midimix",
        "generic",
    } <= stems
    cases = {
        "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0": "korg-nanokontrol2",  # ALSA
        "a2j:nanoKONTROL2 [20] (capture): nanoKONTROL2 MIDI 1": "korg-nanokontrol2",  # JACK's a2j bridge
        "Launch Control XL:Launch Control XL MIDI 1 24:0": "novation-launch-control-xl",
        "APC MINI:APC MINI MIDI 1 28:0": "akai-apc-mini",
        "MIDI Mix:MIDI Mix MIDI 1 32:0": "akai-midimix",
        "Arturia KeyStep 32:Arturia KeyStep 32 MIDI 1 36:0": "generic",  # nothing specific: the fallback
    }
    for port, stem in cases.items():
        assert match_profile(profiles, port).stem == stem, port


def test_port_names():
    assert (
        stable_name("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0") == "nanoKONTROL2:nanoKONTROL2 MIDI 1"
    )
    assert port_matches("nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0", "nanokontrol2")
    assert port_matches("anything", "all")
    assert not port_matches("Launch Control XL:x", "nanoKONTROL2")


def test_a_profile_with_a_bad_key_names_the_file_line_and_key(tmp_path):
    path = write(
        tmp_path / "bad.midi.yaml",
        "name: bad\nmappings:\n  - {cc: 1, target: walk.speed}\n  - {cc: 2, taget: walk.speed}\n",
    )
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    msg = str(err.value)
    assert (
        f"{path}:4" in msg
        and "mappings.1.taget: unknown key" in msg
        and "did you mean 'target'" in msg
    )


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{cc: 1, target: walk.sped}", "unknown target 'walk.sped' (did you mean 'walk.speed'?)"),
        ("{cc: 1, note: 2, target: walk.speed}", "exactly one control"),
        ("{cc: 1, target: walk.speed, range: [0, 5]}", "leaves walk.speed's -2.0..2.0"),
        ("{note: 1, mode: velocity, target: screenshot}", "is an action"),
        ("{cc14: 1, encoder: twos_complement, target: walk.speed}", "only a 7-bit cc"),
        ("{program: 1, target: walk.speed}", "names a scene"),
        ("{cc: 200, target: walk.speed}", "less than or equal to 127"),
        ("{note: 1, mode: absolute, target: walk.speed}", "does not fit a note"),
    ],
)
def test_profile_errors_say_what_is_wrong(tmp_path, entry, words):
    path = write(tmp_path / "p.midi.yaml", f"name: p\nmappings:\n  - {entry}\n")
    with pytest.raises(ProfileError, match=None) as err:
        load_profile(path)
    assert words in str(err.value) and f"{path}:3" in str(err.value)


def test_show_checks_midi_section_profiles_and_scenes(tmp_path):
    with pytest.raises(ShowError, match=r"midi\.tackover: unknown key"):
        parse_show({"midi": {"tackover": "pickup"}}, base_dir=tmp_path)
    with pytest.raises(ShowError, match="scene 'loud'"):
        parse_show({"midi": {"mappings": [{"program": 1, "scene": "loud"}]}}, base_dir=tmp_path)
    with pytest.raises(ShowError, match="unknown parameter 'walk.sped'"):
        parse_show({"scenes": {"a": {"walk.sped": 1}}}, base_dir=tmp_path)
    with pytest.raises(ShowError, match="no profile 'nano'"):
        parse_show({"midi": {"devices": [{"port": "x", "profile": "nano"}]}}, base_dir=tmp_path)
    write(tmp_path / "controllers" / "broken.midi.yaml", "name: b\nmatch: [x]\nmapings: []\n")
    show_path = write(tmp_path / "show.yaml", "midi:\n  takeover: scale\n")
    with pytest.raises(ShowError, match=r"broken\.midi\.yaml:3: mapings: unknown key"):
        load_show(show_path)
    assert main(["check", str(show_path)]) == 2  # exit 2, before any window could open
    show = parse_show({"midi": {"enabled": False}}, base_dir=tmp_path)  # MIDI off: not read
    assert show.midi.enabled is False


def test_default_show_is_valid_and_has_scenes():
    show = load_show(REPO / "show.yaml")
    assert show.midi.enabled and "calm" in show.scenes


def _messages(*raw):
    return [mido.Message.from_bytes(list(r)) for r in raw]


def test_learn_infers_the_kind_of_control():
    cc = _messages((0xB2, 21, 10), (0xB2, 21, 14), (0xB2, 21, 20))
    assert infer_mapping(cc, "walk.speed", REGISTRY) == {
        "channel": 3,
        "cc": 21,
        "target": "walk.speed",
    }
    fine = _messages((0xB0, 4, 10), (0xB0, 36, 5), (0xB0, 4, 11), (0xB0, 36, 90))
    assert infer_mapping(fine, "walk.speed", REGISTRY)["cc14"] == 4
    nrpn = _messages((0xB0, 99, 1), (0xB0, 98, 2), (0xB0, 6, 64), (0xB0, 38, 3))
    assert infer_mapping(nrpn, "walk.speed", REGISTRY)["nrpn"] == 130
    knob = _messages(*[(0xB0, 16, 1)] * 4, (0xB0, 16, 127))
    assert infer_mapping(knob, "walk.speed", REGISTRY)["encoder"] == "twos_complement"
    pad = _messages((0x99, 36, 100), (0x89, 36, 0))
    assert infer_mapping(pad, "screenshot", REGISTRY) == {
        "channel": 10,
        "note": 36,
        "target": "screenshot",
    }
    button = _messages((0xB0, 45, 127), (0xB0, 45, 0))
    assert infer_mapping(button, "walk.paused", REGISTRY)["mode"] == "trigger"
    bend = _messages((0xE0, 0, 70), (0xE0, 0, 80))
    assert infer_mapping(bend, "walk.speed", REGISTRY)["pitchbend"] is True
    assert infer_mapping(_messages((0x80, 36, 0)), "walk.speed", REGISTRY) is None


@pytest.mark.parametrize(
    ("values", "encoder"),
    [
        ([1, 1, 1, 2], "twos_complement"),
        ([127, 127, 126], "twos_complement"),
        ([65, 65, 65, 63], "binary_offset"),
        ([63, 63, 63], "binary_offset"),
        ([1, 1, 65, 65], "signed_bit"),
        ([10, 20, 30, 40], None),
        ([64, 65, 66, 67], None),
    ],
)
def test_encoder_guesses(values, encoder):
    assert guess_encoder(values) == encoder


def test_learned_file_replaces_the_same_control_and_stays_readable(tmp_path):
    path = tmp_path / "controllers" / "learned.midi.yaml"
    save_learned(path, "dev A", {"channel": 1, "cc": 5, "target": "walk.speed"})
    save_learned(path, "dev B", {"channel": 1, "cc": 5, "target": "walk.speed"})
    save_learned(path, "dev A", {"channel": 1, "cc": 5, "target": "output.brightness"})
    text = path.read_text()
    assert "- {device: dev B, channel: 1, cc: 5, target: walk.speed}" in text
    assert "- {device: dev A, channel: 1, cc: 5, target: output.brightness}" in text
    assert text.count("dev A") == 1
    assert len(load_profile(path).profile.mappings) == 2
    assert [p.name for p in path.parent.iterdir()] == ["learned.midi.yaml"]  # no temp files left


def test_replay_file_stands_in_for_a_device(tmp_path):
    midi_file = mido.MidiFile()
    track = mido.MidiTrack()
    midi_file.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))
    for i, v in enumerate((0, 40, 80, 127)):
        track.append(mido.Message("control_change", control=7, value=v, time=0 if i == 0 else 48))
    track.append(mido.Message("program_change", program=1, time=48))
    path = tmp_path / "rehearsal.mid"
    midi_file.save(path)
    data = {
        "scenes": {"a": {"walk.speed": 0.1}, "b": {"walk.speed": 1.5}},
        "midi": {
            "api": "jack",
            "devices": [],
            "replay": [{"file": "rehearsal.mid", "speed": 4.0, "profile": "none"}],
            "mappings": [{"cc": 7, "target": "output.brightness", "takeover": "none"}],
        },
    }
    with Harness(data, tmp_path) as h:
        h.until(lambda: h.targets["walk.speed"] == 1.5, what="the replay's program change")
        values = [round(e.value * 127) for e in h.seen if e.target == "output.brightness"]
        assert values == [0, 40, 80, 127]
        assert all(
            e.source == "midi:replay:rehearsal" for e in h.seen if e.target == "output.brightness"
        )
    with pytest.raises(ShowError, match="not a readable MIDI file"):
        write(tmp_path / "junk.mid", "not midi")
        parse_show({"midi": {"replay": [{"file": "junk.mid"}]}}, base_dir=tmp_path)


def test_without_a_midi_system_one_warning_and_the_show_plays_on(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "no-such-jack-server")  # and no ALSA sequencer here
    caplog.set_level(logging.INFO)
    looks = []  # each time the service looks for a MIDI system
    monkeypatch.setattr(
        service_module, "choose_system", lambda api: looks.append(api) or choose_system(api)
    )
    data = {"midi": {"api": "jack", "poll_s": 0.1, "mappings": [{"cc": 1, "target": "walk.speed"}]}}
    with Harness(data, tmp_path) as h:
        h.until(lambda: h.service.status().problem != "", what="the problem to be known")
        seen = len(looks)
        h.until(lambda: len(looks) >= seen + 5, what="five more looks for a MIDI system")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no JACK server 'no-such-jack-server'" in warnings[0].getMessage()
    assert "plays on" in warnings[0].getMessage()
    assert any("MIDI off" in line for line in h.mapper.hud_lines())
    assert h.targets["walk.speed"] == 0.25
    if not Path(ALSA_SEQ).exists():  # `installation devices` says why there are no ports
        inputs, outputs, why = list_ports()
        assert (inputs, outputs) == ([], []) and "no MIDI system" in why
