"""End to end under Xvfb: the desktop closes the show's real X11 window (WM_DELETE_WINDOW,
as a window manager's close button sends it) and the kiosk show reopens it and plays on."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import make_model
from ..test_e2e_xvfb import xserver  # noqa: F401  (the fixture)
from ..waiting import wait_for as holds_within
from ._kiosk_util import free_port, health, kiosk_show, start_kiosk, stop_kiosk, wait_for

pytestmark = pytest.mark.e2e


def _close_window(display: str, title: str) -> bool:
    """Send WM_DELETE_WINDOW to every top-level window titled `title` (a window left by an
    earlier test on the same server may share the title); whether one was found."""
    from Xlib import X, protocol
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        delete, protocols = d.intern_atom("WM_DELETE_WINDOW"), d.intern_atom("WM_PROTOCOLS")
        net_wm_name = d.intern_atom("_NET_WM_NAME")
        found = False
        for window in d.screen().root.query_tree().children:
            name = window.get_full_property(net_wm_name, 0)  # SDL names it there, UTF-8
            if name is not None and name.value in (title, title.encode()):
                event = protocol.event.ClientMessage(
                    window=window,
                    client_type=protocols,
                    data=(32, [delete, X.CurrentTime, 0, 0, 0]),
                )
                window.send_event(event, event_mask=X.NoEventMask)
                found = True
        d.flush()
        return found
    finally:
        d.close()


def test_a_window_the_desktop_closes_is_reopened_and_the_show_plays_on(
    xserver,  # noqa: F811  (the Xvfb fixture of test_e2e_xvfb)
    tmp_path: Path,
) -> None:
    pytest.importorskip("Xlib", reason="python-xlib talks to the X server (test extra)")
    port = free_port()
    show = kiosk_show(
        tmp_path,
        make_model(tmp_path / "models" / "tiny"),
        health_port=port,
        kiosk={"standby": False},
    )
    proc = start_kiosk(
        show,
        headless=False,
        env={"DISPLAY": xserver, "SDL_VIDEODRIVER": "x11", "SDL_VIDEO_WINDOW_POS": "0,0"},
    )
    try:
        first = wait_for(lambda: (h := health(port)) and h["frame"] and h, 120, "the first frame")
        log = tmp_path / "supervisor.log"

        def closed_and_reopening() -> bool:
            # Asked again until the show says so: a close sent while SDL was still mapping
            # its window can go unseen.
            _close_window(xserver, "installation")
            return holds_within(
                lambda: log.exists() and "the window was closed; reopening" in log.read_text(), 3
            )

        assert wait_for(closed_and_reopening, 40, "the window closed and reopening")
        later = wait_for(
            lambda: (h := health(port)) and h["frame"] > first["frame"] + 30 and h,
            30,
            "frames after the reopening",
        )
        assert later["pid"] == first["pid"]  # the same show: it did not quit
        assert wait_for(
            lambda: _close_window(xserver, "installation") or None, 10, "the window again"
        )
    finally:
        text = stop_kiosk(proc)
    assert proc.returncode == 0, text
