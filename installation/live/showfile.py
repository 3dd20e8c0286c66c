"""Watching the show file while it plays (issue 16: show.yaml made invalid while running
went unnoticed until the next start failed, perhaps the next morning with nobody there).

The running show keeps the settings it started with; this only says, at once, in the log,
the stats and the HUD, that the file on disk changed, and whether the show would still
start with it: so a technician's typo is found while they are still at the machine.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from installation.config.show import ShowError, load_show
from installation.stats import StatsWriter

log = logging.getLogger(__name__)

POLL_S = 1.0


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class ShowFileWatch:
    def __init__(self, path: Path, stats: StatsWriter, poll_s: float = POLL_S) -> None:
        self.path, self.stats, self.poll_s = Path(path), stats, poll_s
        self._signature = _signature(self.path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hud: tuple[str, ...] = ()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="show-file", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def hud_lines(self) -> tuple[str, ...]:
        return self._hud

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            signature = _signature(self.path)
            if signature != self._signature:
                self._signature = signature
                self.check()

    def check(self) -> None:
        try:
            load_show(self.path)
        except ShowError as exc:
            first = str(exc).splitlines()[0]
            log.error(
                "%s changed and is no longer valid (the running show keeps its settings; "
                "it would not start like this): %s",
                self.path,
                exc,
            )
            # The HUD first, then the event: a reader that sees the event sees the HUD too.
            self._hud = (f"show file invalid: {first}"[:110],)
            self.stats.event(
                "show_file_invalid", t=time.monotonic(), path=str(self.path), error=str(exc)
            )
        else:
            log.info("%s changed; the changes take effect at the next start", self.path)
            self._hud = ("show file changed: restart to apply",)
            self.stats.event("show_file_changed", t=time.monotonic(), path=str(self.path))
