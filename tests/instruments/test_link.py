"""Ableton Link with a real second peer (aalink in a thread of the test): the show follows
the session's tempo and beat, and holds the tempo when the peer vanishes."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from tests.instruments.support import Stepped, show_dict

aalink = pytest.importorskip("aalink", reason="Ableton Link is the optional `link` extra (aalink)")


class Peer:
    """Another Link app on this machine, at a tempo the test sets."""

    def __init__(self, bpm: float) -> None:
        self.bpm = bpm
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    async def _main(self) -> None:
        link = aalink.Link(self.bpm)
        link.enabled = True
        self.ready.set()
        while not self.stop.is_set():
            if abs(link.tempo - self.bpm) > 1e-3:
                link.tempo = self.bpm
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
