"""A Standard MIDI File standing in for a device: rehearsals without the hardware, tests.

The file's messages are played in real time (times from its tempo map, scaled by `speed`)
into a reader of their own, exactly as if a port had sent them; meta messages are skipped.
Waiting is done on a threading.Event, so stopping the show stops a replay at once.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import mido

from installation.control.midi.decode import MidiReader

log = logging.getLogger(__name__)


class MidiFileReplay:
    def __init__(
        self,
        path: Path,
        reader: MidiReader,
        *,
        loop: bool = False,
        speed: float = 1.0,
    ) -> None:
        self.path, self.reader, self.loop, self.speed = path, reader, loop, speed
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"midi-replay:{path.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        try:
            midi_file = mido.MidiFile(self.path)
            while not self._stop.is_set():
                due = time.monotonic()
                for msg in midi_file:  # merged tracks; msg.time is seconds since the previous one
                    due += msg.time / self.speed
                    if self._stop.wait(max(0.0, due - time.monotonic())):
                        return
                    if not msg.is_meta:
                        self.reader.handle(msg, time.monotonic())
                if not self.loop:
                    break
            log.info("MIDI replay of %s finished", self.path)
        except Exception:  # a broken file must not take the show down
            log.exception("MIDI replay of %s failed", self.path)
        finally:
            self.finished.set()
