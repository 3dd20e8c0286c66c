"""Scenes, cues, keyframes and tempo from OSC (real sockets), keys and MIDI; mappings
survive a hundred recalls; replay logs with unknown events."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pygame
import pytest

from installation.control.osc.parse import Message, encode_message
from installation.control.osc.server import OscServer
from installation.control.osc.space import AddressSpace
from installation.instruments.record import Replay
from installation.params import REGISTRY
from tests.control.osc.osc_support import udp_socket, wait_for
from tests.instruments.support import Stepped, ev, show_dict


def test_osc_actions_carry_their_number_and_name() -> None:
    space = AddressSpace(REGISTRY)
    (rename,), _ = space.resolve(Message("/scene/rename", (2, "intro")), "osc:x", 0.0)
    assert (rename.target, rename.value, rename.text) == (
        "scene.rename",
        2.0,
        "intro",
    )
    (tempo,), _ = space.resolve(Message("/tempo", (128.5,)), "osc:x", 0.0)
    assert tempo.value == 128.5
    (beat,), _ = space.resolve(Message("/beat", ()), "osc:x", 0.0)
    assert math.isnan(beat.value)


def test_mappings_are_unchanged_after_a_hundred_recalls(tmp_path: Path) -> None:
    data = show_dict(tmp_path)
    data["osc"] = {
        "port": 0,
        "oscquery": {"enabled": False},
        "mappings": [{"address": "/1/fader1", "target": "walk.speed"}],
    }
    data["parameters"] = {"walk.speed": {"smoothing": 0}}
    data["performance"] = {"morph_s": 0.0}
    show = Stepped(tmp_path, data)
    try:
        server = next(s for s in show.runtime.services if isinstance(s, OscServer))
        table = dict(server.space.table)
        show.run(
            3,
            {
                0: [ev("morph.time", 0.0), ev("scene.store", math.nan, "a"), ev("walk.speed", 1.0)],
                1: [ev("scene.store", math.nan, "b")],
            },
        )
        for i in range(100):
            show.step([ev("cue.jump", 1 + i % 2)])
        assert show.instrument.desk.cue == 1
        assert server.space.table == table
        mappers = show.loop.hooks.mappers
        assert server.scheduler in mappers
        # The mapped fader still steers over a real socket: 0.25 of -2..2 is -1.
        with udp_socket(bind=False) as sock:
            before = server.receiver.counters["packets"]
            sock.sendto(encode_message("/1/fader1", [0.25]), ("127.0.0.1", server.address[1]))
            assert wait_for(lambda: server.receiver.counters["packets"] > before)
        assert wait_for(
            lambda: (show.step(), show.loop.targets["walk.speed"] == pytest.approx(-1.0))[1]
        )
    finally:
        show.close()


def test_scene_store_rename_delete_and_the_cue_list(tmp_path: Path) -> None:
    show = Stepped(tmp_path)
    try:
        show.run(
            4,
            {
                0: [ev("scene.store", math.nan)],
                1: [ev("scene.store", math.nan)],
                2: [ev("scene.rename", 2, "verse")],
                3: [ev("scene.store", math.nan, "verse")],
            },
        )
        desk = show.instrument.desk
        assert desk.book.names() == ["scene 1", "verse", "verse 1"]
        show.run(3, {4: [ev("cue.back")], 5: [ev("scene.delete", 1)], 6: [ev("cue.go")]})
        assert desk.book.names() == ["verse", "verse 1"]
        assert desk.cue == 1
        desk.writer.close()  # saved atomically, off the render thread
        text = (tmp_path / "scenes.yaml").read_text(encoding="utf-8")
        assert "name: verse 1" in text and "scene 1" not in text
    finally:
        show.close()


def test_keys_tap_the_tempo_and_store_keyframes(tmp_path: Path) -> None:
    show = Stepped(tmp_path)
    try:

        def press(key: int) -> None:
            pygame.event.post(
                pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0)
            )

        press(pygame.K_TAB)
        show.run(10)  # one tap: ignored
        assert not show.instrument.tempo.state.known
        for _ in range(3):
            press(pygame.K_TAB)
            show.run(10)  # a tap every 0.5 s
        assert show.instrument.tempo.state.bpm == pytest.approx(120.0)
        assert any("120.0 bpm" in line for line in show.instrument.hud_lines())
        press(pygame.K_k)
        show.run(1)
        assert len(show.instrument.desk.book.keyframes) == 1
    finally:
        show.close()


def test_a_replay_log_with_unknown_events_skips_and_counts_them(tmp_path: Path) -> None:
    log = tmp_path / "odd.jsonl"
    lines = [
        {"t": 0.0, "event": "start", "version": 1},
        {"t": 0.1, "event": "control", "target": "walk.speed", "value": 1.5, "source": "osc"},
        {"t": 0.2, "event": "hologram", "value": 3},
        {"t": "soon", "event": "control", "target": "walk.speed", "value": 1.0},
        {"t": 0.3, "event": "control", "target": "no.such.thing", "value": 1.0, "source": "osc"},
        {"t": 1.0, "event": "end"},
    ]
    log.write_text(
        "\n".join(json.dumps(x) for x in lines) + "\nnot json at all\n", encoding="utf-8"
    )
    replay = Replay(log)
    assert replay.skipped == 3 and replay.end == 1.0 and len(replay.lines) == 2
    show = Stepped(tmp_path, replay=log)
    try:
        show.run(10)
        assert show.loop.targets["walk.speed"] == 1.5
        assert any("3 line(s) skipped" in line for line in show.instrument.hud_lines())
        show.run(15)
        assert not show.loop.running  # the log's end ends a live replay
    finally:
        show.close()
