"""Display faults with a real pygame display (SDL's dummy driver): the desktop closing the
window and a resolution change reopen it instead of ending the show. The events are posted
on pygame's real event queue, as SDL would post them; a display physically unplugged and
replugged cannot happen on the dummy driver, so that case is covered by the display count
check alone (monkeypatched count, said so below)."""

from __future__ import annotations

import numpy as np
import pygame

from installation.render.display import DisplaySettings, PygameDisplay


def _display(**kw) -> PygameDisplay:
    d = PygameDisplay(DisplaySettings(size=(320, 180), headless=True, **kw))
    d.open()
    return d


def test_a_closed_window_quits_normally_but_reopens_in_a_kiosk() -> None:
    plain = _display()
    try:
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert [e.target for e in plain.poll()] == ["quit"]
    finally:
        plain.close()
    kiosk = _display(keep_open=True)
    try:
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert kiosk.poll() == [] and kiosk.reopened == 1
        kiosk.present(np.zeros((32, 32, 4), np.uint8))  # and it still shows frames
    finally:
        kiosk.close()


def test_a_resolution_change_in_full_screen_reopens_at_the_configured_size() -> None:
    d = _display(keep_open=True, fullscreen=True)
    try:
        opened = d.size
        d.window = pygame.display.set_mode((200, 100))  # what a desktop's mode change leaves
        pygame.event.post(pygame.event.Event(pygame.WINDOWSIZECHANGED, x=200, y=100))
        d.poll()
        assert d.reopened == 1 and d.size == opened
        d.poll()  # the events of our own reopening do not reopen again
        assert d.reopened == 1
    finally:
        d.close()


def test_a_configured_display_that_comes_back_gets_the_window_again(monkeypatch) -> None:
    d = _display(keep_open=True, display=1)  # the dummy driver has one display: opened on 0
    try:
        d.check_displays()
        assert d.reopened == 0
        # A second display plugged in: the dummy driver cannot, so the count is patched.
        monkeypatch.setattr(pygame.display, "get_num_displays", lambda: 2)
        d.check_displays()  # SDL then refuses display 1 after all: it falls back to 0, keeps playing
        assert d.reopened == 1 and d.window is not None
        d.present(np.zeros((32, 32, 4), np.uint8))
        d.check_displays()
        assert d.reopened == 1  # and waits a while before trying again
    finally:
        d.close()
