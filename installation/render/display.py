"""The pygame side of the show: window or full screen, scaling, HUD, keyboard, screenshots.

Only the main thread touches pygame. `PygameDisplay` wraps the host frame buffers as
pygame surfaces once (no per-frame copies) and scales them straight into the window
surface, which on this CPU costs ~1 ms at 1080p against 20+ ms for torch's interpolate.
Headless runs use SDL's dummy driver, so they exercise the very same path.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation.events import ControlEvent
from installation.render.renderer import PixelLayout

log = logging.getLogger(__name__)

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402  (after the env var that silences its banner)


class DisplayError(RuntimeError):
    """No display could be opened; the message says what to do."""


# SDL's stand-ins when there is no screen: they "work", but nobody sees them.
_FAKE_DRIVERS = ("offscreen", "dummy")


def display_lines() -> list[str]:
    """`installation devices`: the monitors and their sizes, or why there are none."""
    lines = ["displays:"]
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("SDL_VIDEODRIVER")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        # Without a screen SDL falls back to a 1024x768 offscreen "display" (after a
        # warning about XDG_RUNTIME_DIR): not what anyone asking for monitors wants.
        return [
            *lines,
            "  none (no DISPLAY or WAYLAND_DISPLAY set); use --headless, or start "
            "an X server (Xvfb) and set DISPLAY",
        ]
    try:
        pygame.display.init()
        driver = pygame.display.get_driver()
        for i, (w, h) in enumerate(pygame.display.get_desktop_sizes()):
            fake = " (not a screen: SDL_VIDEODRIVER)" if driver in _FAKE_DRIVERS else ""
            lines.append(f"  {i}: {w}x{h} ({driver}){fake}")
        pygame.display.quit()
    except pygame.error as exc:
        lines.append(f"  none ({exc}); use --headless, or start an X server (Xvfb) and set DISPLAY")
    return lines


_WINDOW_CHANGES = (pygame.WINDOWSIZECHANGED, pygame.WINDOWDISPLAYCHANGED)


def _key_events() -> dict[int, tuple[str, float, bool]]:
    # key -> (target, value, relative); relative on a bool param toggles it.
    return {
        pygame.K_ESCAPE: ("quit", 1.0, False),
        pygame.K_q: ("quit", 1.0, False),
        pygame.K_f: ("display.fullscreen", 1.0, False),
        pygame.K_h: ("hud.visible", 1.0, True),
        pygame.K_s: ("screenshot", 1.0, False),
        pygame.K_SPACE: ("walk.paused", 1.0, True),
        pygame.K_l: ("learn", 1.0, False),
        pygame.K_BACKSPACE: ("learn.cancel", 1.0, False),
        pygame.K_p: ("model.pinned", 1.0, True),
        pygame.K_b: ("model.previous", 1.0, False),
        pygame.K_n: ("model.latest", 1.0, False),
        pygame.K_t: ("training.paused", 1.0, True),
        # Performance: cue list, scenes, keyframes, tap tempo (installation/instruments/).
        pygame.K_RIGHT: ("cue.go", 1.0, False),
        pygame.K_LEFT: ("cue.back", 1.0, False),
        pygame.K_RETURN: ("scene.store", float("nan"), False),
        pygame.K_DELETE: ("scene.delete", float("nan"), False),
        pygame.K_k: ("keyframe.store", 1.0, False),
        pygame.K_o: ("loop.on", 1.0, True),
        pygame.K_TAB: ("tempo.tap", 1.0, False),
        **{getattr(pygame, f"K_{n}"): ("cue.jump", float(n), False) for n in range(1, 10)},
    }


@dataclass(frozen=True)
class DisplaySettings:
    size: tuple[int, int] | None = (1280, 720)  # None: the chosen display's desktop size
    fullscreen: bool = False
    display: int = 0
    vsync: bool = False
    filter: str = "nearest"  # nearest | bilinear | bicubic
    fit: str = "cover"  # cover (crop to fill) | contain (letterbox) | stretch
    headless: bool = False
    title: str = "installation"
    # Kiosk: a window the desktop closes, or a display that goes and comes back, or a
    # resolution change, reopens full screen on the configured display instead of quitting.
    keep_open: bool = False
    hud_size: int = 24  # HUD text height in pixels (the kiosk's error frame reads from afar)


def _fit_rects(src: int, out: tuple[int, int], fit: str) -> tuple[pygame.Rect, pygame.Rect]:
    """(source crop, destination rect) to map a square `src` image onto `out`."""
    w, h = out
    if fit == "stretch":
        return pygame.Rect(0, 0, src, src), pygame.Rect(0, 0, w, h)
    if fit == "contain":
        side = min(w, h)
        return pygame.Rect(0, 0, src, src), pygame.Rect(
            (w - side) // 2, (h - side) // 2, side, side
        )
    # cover: crop the source to the output's aspect ratio, then fill the whole window.
    if w >= h:
        ch = max(1, round(src * h / w))
        return pygame.Rect(0, (src - ch) // 2, src, ch), pygame.Rect(0, 0, w, h)
    cw = max(1, round(src * w / h))
    return pygame.Rect((src - cw) // 2, 0, cw, src), pygame.Rect(0, 0, w, h)


class PygameDisplay:
    def __init__(self, settings: DisplaySettings) -> None:
        self.settings = settings
        self.fullscreen = settings.fullscreen
        self.window: pygame.Surface | None = None
        self._sources: list[pygame.Surface] = []
        self._wrapped: list[int] = []
        self._canvas_surface: pygame.Surface | None = None  # for a 16/24-bit window
        self._font: pygame.font.Font | None = None
        self._hud_text: tuple[str, ...] = ()
        self._hud_surface: pygame.Surface | None = None
        self._keys = {}
        self.reopened = 0
        self._display_index = settings.display
        self._opened_size: tuple[int, int] = (0, 0)
        self._next_check = 0.0

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        if self.settings.headless:
            # "dummy" keeps the window surface in memory; "offscreen" costs ~14 ms a flip.
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        elif os.environ.get("SDL_VIDEODRIVER") is None and not (
            os.environ.get("DISPLAY")
            or os.environ.get("WAYLAND_DISPLAY")
            or os.name == "nt"
            or os.uname().sysname == "Darwin"
        ):
            raise DisplayError(
                "no display found (DISPLAY is not set): run with --headless to render offscreen, "
                "or start an X server (e.g. Xvfb :99 and DISPLAY=:99)"
            )
        try:
            pygame.display.init()  # not pygame.init(): that opens audio too
            pygame.font.init()
        except pygame.error as exc:
            raise DisplayError(f"could not start the display ({exc}); try --headless") from None
        self._keys = _key_events()
        self._open_window()
        pygame.mouse.set_visible(not self.fullscreen)

    def _open_window(self, index: int | None = None) -> None:
        s = self.settings
        flags = pygame.FULLSCREEN if self.fullscreen else 0
        size = s.size or self.desktop_size()
        displays = pygame.display.get_num_displays()
        if index is None:
            index = s.display if s.display < displays else 0
        self._display_index = index
        if s.display >= displays:
            log.warning(
                "display %d does not exist (%d found); using display 0", s.display, displays
            )
        try:
            if s.vsync:
                try:
                    self.window = pygame.display.set_mode(
                        size, flags | pygame.SCALED, display=index, vsync=1
                    )
                except pygame.error as exc:
                    log.warning(
                        "vsync is not available here (%s); pacing by the fps cap instead", exc
                    )
                    self.window = pygame.display.set_mode(size, flags, display=index)
            else:
                self.window = pygame.display.set_mode(size, flags, display=index)
        except pygame.error as exc:
            raise DisplayError(
                f"could not open a {size[0]}x{size[1]} window ({exc}); try --headless"
            ) from None
        pygame.display.set_caption(s.title)
        self._opened_size = self.window.get_size()
        self._wrapped = []  # surfaces must be re-made to the new window's format

    def desktop_size(self) -> tuple[int, int]:
        sizes = pygame.display.get_desktop_sizes()
        return sizes[min(self.settings.display, len(sizes) - 1)] if sizes else (1280, 720)

    def close(self) -> None:
        pygame.display.quit()

    @property
    def size(self) -> tuple[int, int]:
        assert self.window is not None
        return self.window.get_size()

    @property
    def layout(self) -> PixelLayout:
        assert self.window is not None
        if self.window.get_bytesize() != 4:  # a 16/24-bit window: frames stay 4-byte, SDL
            return PixelLayout()  # converts them at the blit (masks of 2-3 bytes are no layout)
        return PixelLayout.from_masks(self.window.get_masks())

    def toggle_fullscreen(self) -> None:
        self.fullscreen = not self.fullscreen
        self._open_window()
        pygame.mouse.set_visible(not self.fullscreen)

    # -- input ---------------------------------------------------------------------------
    def poll(self) -> list[ControlEvent]:
        """Keyboard and window events as ControlEvents (window close -> quit, or with
        `keep_open` a reopened window)."""
        events: list[ControlEvent] = []
        for ev in pygame.event.get():
            if ev.type == pygame.QUIT and self.settings.keep_open:
                self.reopen("the window was closed")
            elif ev.type == pygame.QUIT:
                events.append(ControlEvent("quit"))
            elif ev.type in _WINDOW_CHANGES and self.settings.keep_open:
                self._window_changed(ev)
            elif ev.type == pygame.KEYDOWN and ev.key in self._keys:
                target, value, relative = self._keys[ev.key]
                events.append(ControlEvent(target, value, relative=relative))
        return events

    # -- display faults (kiosk) ----------------------------------------------------------
    def reopen(self, why: str) -> None:
        """Open the window again, as configured (full screen on the configured display when
        it exists); counted in `reopened`."""
        self.reopened += 1
        log.warning("display: %s; reopening the window", why)
        try:
            self._open_window()
        except DisplayError as exc:  # e.g. a display that is back but not ready: use the first
            log.error("display: %s; opening on display 0 for now", exc)
            self._next_check = time.monotonic() + 10.0
            self._open_window(index=0)
        pygame.mouse.set_visible(not self.fullscreen)

    def _window_changed(self, ev: pygame.event.Event) -> None:
        if ev.type == pygame.WINDOWDISPLAYCHANGED and self._display_index != self.settings.display:
            return  # still away from the configured display: wait for it to come back
        if ev.type == pygame.WINDOWDISPLAYCHANGED:
            self.reopen("the window moved to another display (unplugged?)")
        elif (
            self.fullscreen
            and self.window is not None
            and self.window.get_size() != self._opened_size
        ):
            # Compared with what our own last open gave (not the configured size, which a
            # monitor may not offer): no reopening for the events our reopening makes.
            w, h = self.window.get_size()
            self.reopen(f"the resolution changed to {w}x{h}")

    def check_displays(self) -> None:
        """Called now and then: a configured display that came back gets the window again."""
        if not self.settings.keep_open or self._display_index == self.settings.display:
            return
        if time.monotonic() < self._next_check:
            return
        if pygame.display.get_num_displays() > self.settings.display:
            self.reopen(f"display {self.settings.display} is back")

    # -- output --------------------------------------------------------------------------
    def _surface_for(self, pixels: np.ndarray) -> pygame.Surface:
        """A pygame surface that wraps `pixels` without copying, made once per buffer."""
        key = pixels.__array_interface__["data"][0]
        if key not in self._wrapped:
            h, w = pixels.shape[:2]
            self._wrapped.append(key)
            surface = pygame.image.frombuffer(pixels, (w, h), self.layout.pygame_format)
            surface.set_alpha(None)  # the pad byte is not alpha: blits are plain copies
            self._sources.append(surface)
        return self._sources[self._wrapped.index(key)]

    def present(
        self,
        pixels: np.ndarray,
        hud: Sequence[str] = (),
        grab: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        """Show `pixels`; `grab`, if given, gets the window's picture (scaled, before the
        HUD) as an [H, W, 4] view in the display layout, which it must copy, not keep."""
        assert self.window is not None
        src = self._surface_for(pixels)
        h, w = pixels.shape[:2]
        out = self.window.get_size()
        # A 16/24-bit window (some framebuffer/KMS setups): pygame scales only between
        # surfaces of one format, and there is no 4-byte view of it to grab, so the picture
        # is made on a 32-bit canvas in the frames' layout and blitted over (SDL converts).
        canvas = self.window if self.window.get_bytesize() == 4 else self._canvas()
        if (w, h) == out:
            canvas.blit(src, (0, 0))
        else:
            crop, dest = _fit_rects(min(w, h), out, self.settings.fit)
            view = src.subsurface(crop)
            target = canvas if dest.size == out else canvas.subsurface(dest)
            if self.settings.filter == "nearest":
                pygame.transform.scale(view, dest.size, target)
            else:
                pygame.transform.smoothscale(view, dest.size, target)
        if grab is not None:
            self._grab(grab, canvas)
        if canvas is not self.window:
            self.window.blit(canvas, (0, 0))
        if hud:
            self._draw_hud(tuple(hud))
        pygame.display.flip()

    def _grab(self, grab: Callable[[np.ndarray], None], source: pygame.Surface) -> None:
        w, h = source.get_size()
        buffer = source.get_buffer()  # locks the surface until the view is gone
        try:
            grab(np.ndarray((h, w, 4), np.uint8, buffer=buffer, strides=(source.get_pitch(), 4, 1)))
        finally:
            del buffer

    def _canvas(self) -> pygame.Surface:
        assert self.window is not None
        size = self.window.get_size()
        if self._canvas_surface is None or self._canvas_surface.get_size() != size:
            layout = self.layout
            masks = (0xFF << 8 * layout.r, 0xFF << 8 * layout.g, 0xFF << 8 * layout.b, 0)
            self._canvas_surface = pygame.Surface(size, 0, 32, masks)
            log.info(
                "the window is %d-bit: the picture is made at 32 bits and converted",
                self.window.get_bitsize(),
            )
        return self._canvas_surface

    def _draw_hud(self, lines: tuple[str, ...]) -> None:
        if self._font is None:
            self._font = pygame.font.Font(None, self.settings.hud_size)
        if lines != self._hud_text:  # re-render text only when it changes
            self._hud_text = lines
            rendered = [self._font.render(line, True, (255, 255, 255)) for line in lines]
            width = max(s.get_width() for s in rendered) + 16
            height = sum(s.get_height() for s in rendered) + 12
            panel = pygame.Surface((width, height), pygame.SRCALPHA)
            panel.fill((0, 0, 0, 160))
            y = 6
            for s in rendered:
                panel.blit(s, (8, y))
                y += s.get_height()
            self._hud_surface = panel
        assert self.window is not None and self._hud_surface is not None
        self.window.blit(self._hud_surface, (12, 12))

    def screenshot(self, path: Path) -> Path:
        assert self.window is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.window, str(path))
        return path
