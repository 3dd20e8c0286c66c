"""Ableton Link with a real second peer (aalink in a thread of the test): the show follows
the session's tempo and beat, holds the tempo when the peer vanishes, and gives the session
a tempo set in the show (OSC, taps, MIDI clock)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from installation.events import ClockTick
from tests.instruments.support import Stepped, ev, show_dict

aalink = pytest.importorskip("aalink", reason="Ableton Link is the optional `link` extra (aalink)")


class Peer:
    """Another Link app on this machine, at a tempo the test sets (None: it only listens,
    and `heard` is the session's tempo as it sees it)."""

    def __init__(self, bpm: float | None) -> None:
        self.bpm, self.heard = bpm, 0.0
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    async def _main(self) -> None:
        link = aalink.Link(self.bpm or 120.0)
        link.enabled = True
        self.ready.set()
        while not self.stop.is_set():
            if self.bpm is not None and abs(link.tempo - self.bpm) > 1e-3:
                link.tempo = self.bpm
            self.heard = float(link.tempo)
            await asyncio.sleep(0.02)
        link.enabled = False

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def _until(show: Stepped, check, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        show.step()
        if check():
            return True
        time.sleep(0.01)
    return False


def test_the_show_follows_a_link_session_and_holds_when_the_peer_goes(tmp_path: Path) -> None:
    peer = Peer(133.0)
    show = Stepped(tmp_path, show_dict(tmp_path, link=True))
    try:
        tempo = show.instrument.tempo
        assert _until(show, lambda: tempo.state.known and abs(tempo.state.bpm - 133.0) < 0.01)
        assert tempo.state.source == "link"
        assert any(line.startswith("Link: 1 peer") for line in show.instrument.hud_lines())
        peer.bpm = 97.5  # the other app changes tempo
        assert _until(show, lambda: abs(tempo.state.bpm - 97.5) < 0.01)
        peer.close()  # ... and quits
        assert _until(show, lambda: show.instrument.link.peers == 0, 20)
        show.run(10)
        assert tempo.state.bpm == pytest.approx(97.5, abs=0.01)  # the tempo holds
    finally:
        show.close()
        peer.close()


def test_a_tempo_set_in_the_show_goes_to_the_link_session(tmp_path: Path) -> None:
    peer = Peer(None)
    record = tmp_path / "set.jsonl"
    show = Stepped(tmp_path, show_dict(tmp_path, link=True), record=record)
    try:
        link = show.instrument.link
        assert _until(show, lambda: link.peers == 1)
        show.step([ev("tempo", 141.0)])  # /tempo 141 over OSC
        assert _until(show, lambda: abs(peer.heard - 141.0) < 0.01)

        show.step([ev("tempo.tap", source="keyboard")])  # two taps 0.5 s apart: 120 bpm
        show.run(9)
        show.step([ev("tempo.tap", source="keyboard")])
        assert _until(show, lambda: abs(peer.heard - 120.0) < 0.01)

        clock = ClockTick("midi:x", running=True, bpm=100.0, beat=8.0, at=time.monotonic())
        show.instrument.midi_clock = lambda: clock
        assert _until(show, lambda: abs(peer.heard - 100.0) < 0.01)
        show.run(10)
        assert show.instrument.tempo.state.bpm == pytest.approx(100.0)
    finally:
        show.close()
        peer.close()
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    from_link = [x["value"] for x in lines if x.get("target") == "tempo" and x["source"] == "link"]
    # At most the session's tempo when the peer was found: what the show told Link never
    # comes back to it as news from Link.
    assert from_link in ([], [pytest.approx(120.0)])
