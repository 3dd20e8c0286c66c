"""Ableton Link (the optional `link` extra, aalink): the session's tempo and beat become
`tempo` and `beat` events on the show's queue, like OSC's, so they are recorded and replayed.

A thread runs aalink's asyncio loop: it sends the tempo whenever it changes and a `beat`
event on every beat (`Link.sync(1)`), only while a peer is there. When the last peer leaves,
nothing more is sent and the show's tempo holds where it was.

The other way, `publish` gives the session a tempo set in the show (tap, OSC, MIDI clock):
aalink's `Link.tempo` setter, and for a beat `Link.request_beat` (Link's polite form: alone
in the session the beat falls now; with peers Link keeps the session's phase).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading

from installation.events import ControlEvent, EventQueue

log = logging.getLogger(__name__)

SOURCE = "link"


def link_available() -> bool:
    try:
        import aalink  # noqa: F401
    except ImportError:
        return False
    return True


class LinkService:
    def __init__(self, events: EventQueue, bpm: float = 120.0) -> None:
        self.events, self.bpm = events, bpm
        self.peers = 0
        self.tempo = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._link: object | None = None  # the aalink.Link, touched on its loop's thread only
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ableton-link", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("Ableton Link stopped; the tempo holds")

    async def _main(self) -> None:
        import aalink

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._link = link = aalink.Link(self.bpm)
        link.enabled = True
        self._ready.set()
        beats = asyncio.ensure_future(self._beats(link))
        try:
            while not self._stop.is_set():
                self.peers = int(link.num_peers)
                tempo = float(link.tempo)
                if self.peers and abs(tempo - self.tempo) > 1e-3:
                    self.tempo = tempo
                    self.events.put(ControlEvent("tempo", tempo, source=SOURCE))
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=0.05)
                except TimeoutError:
                    pass
        finally:
            beats.cancel()
            link.enabled = False

    async def _beats(self, link) -> None:
        while True:
            await link.sync(1)
            if self.peers:
                self.events.put(
                    ControlEvent("beat", float(math.floor(link.beat + 0.5)), source=SOURCE)
                )

    def publish(self, bpm: float, beat: float | None = None) -> None:
        """Tell the session the show's tempo (and that `beat` falls now); any thread."""
        self.bpm = bpm  # a Link that starts later starts at it
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._tell, bpm, beat)
            except RuntimeError:  # the loop closed in between: Link has stopped
                pass

    def _tell(self, bpm: float, beat: float | None) -> None:
        link = self._link
        if link is None:
            return
        link.tempo = bpm
        # What the session now says is ours: the poll must not send it back as news.
        self.tempo = float(link.tempo)
        if beat is not None:
            link.request_beat(beat)

    def describe(self) -> str:
        return f"Link: {self.peers} peer(s)" if self.peers else "Link: no peers (tempo holds)"

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
