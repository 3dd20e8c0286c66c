"""The pygame display path on a real (dummy-driver) pygame window."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from installation.render.display import DisplayError, DisplaySettings, PygameDisplay, _fit_rects
from installation.render.renderer import PixelLayout


@pytest.fixture
def display():
    d = PygameDisplay(DisplaySettings(size=(320, 180), headless=True))
    d.open()
    yield d
    d.close()


def solid(layout: PixelLayout, rgb: tuple[int, int, int], size: int = 16) -> np.ndarray:
    pixels = np.zeros((size, size, 4), np.uint8)
    pixels[..., layout.r], pixels[..., layout.g], pixels[..., layout.b] = rgb
    return pixels


def test_present_scales_the_frame_into_the_whole_window(display: PygameDisplay) -> None:
    layout = display.layout
    pixels = solid(layout, (200, 30, 90))
    pixels[:, :8, layout.r] = 10  # left half darker red
    display.present(pixels)
    window = pygame.display.get_surface()
    assert window.get_size() == (320, 180)
    assert tuple(window.get_at((300, 90)))[:3] == (200, 30, 90)
    assert tuple(window.get_at((10, 90)))[:3] == (10, 30, 90)


def test_hud_is_drawn_over_the_frame(display: PygameDisplay) -> None:
    pixels = solid(display.layout, (255, 255, 255))
    display.present(pixels)
    plain = pygame.surfarray.array3d(pygame.display.get_surface()).copy()
    display.present(pixels, hud=["60.0 fps", "model tiny v1"])
    with_hud = pygame.surfarray.array3d(pygame.display.get_surface())
    assert (plain != with_hud).any()
    assert (with_hud[300:, 150:] == 255).all()  # the HUD stays in its corner


def test_window_events_become_control_events(display: PygameDisplay) -> None:
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_f))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_z))  # unbound: ignored
    assert [e.target for e in display.poll()] == ["quit", "display.fullscreen"]


def test_pixel_layout_from_masks() -> None:
    bgra = PixelLayout.from_masks((0xFF0000, 0xFF00, 0xFF, 0))
    assert (bgra.r, bgra.g, bgra.b, bgra.pad) == (2, 1, 0, 3) and bgra.pygame_format == "BGRA"
    rgba = PixelLayout.from_masks((0xFF, 0xFF00, 0xFF0000, 0))
    assert rgba.pygame_format == "RGBA"


def test_cover_crops_to_the_output_aspect() -> None:
    crop, dest = _fit_rects(128, (1920, 1080), "cover")
    assert crop.width == 128 and crop.height == 72 and dest.size == (1920, 1080)
    crop, dest = _fit_rects(128, (1080, 1920), "cover")
    assert crop.height == 128 and crop.width == 72


def test_no_display_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="--headless"):
        PygameDisplay(DisplaySettings()).open()


@pytest.mark.parametrize("depth", [16, 24])
def test_a_window_of_16_or_24_bits_is_grabbed_converted_to_32(
    display: PygameDisplay, depth: int
) -> None:
    # SDL2 gives a 32-bit window on X11 (even an Xvfb of depth 16) and on the dummy driver;
    # 16/24-bit windows come from some framebuffer/KMS setups, which this machine lacks.
    # A real pygame surface of that depth stands in for such a window.
    display.window = pygame.Surface((320, 180), 0, depth)
    assert display.window.get_bytesize() == depth // 8
    layout = display.layout
    assert layout.pygame_format == "BGRA"
    pixels = solid(layout, (200, 40, 120))
    pixels[:, :8, layout.r] = 0  # left half without red
    grabbed: list[np.ndarray] = []
    display.present(pixels, hud=["60.0 fps"], grab=lambda view: grabbed.append(view.copy()))
    (view,) = grabbed
    assert view.shape == (180, 320, 4)
    step = 8 if depth == 16 else 1  # RGB565 keeps 5/6/5 bits per channel
    right = view[90, 300, [layout.r, layout.g, layout.b]].astype(int)
    left = view[90, 60, [layout.r, layout.g, layout.b]].astype(int)
    assert np.abs(right - (200, 40, 120)).max() < step, right
    assert left[0] < step and abs(left[1] - 40) < step, left
    hud_corner = view[20, 20, [layout.r, layout.g, layout.b]].astype(int)
    assert np.abs(hud_corner - (0, 40, 120)).max() < step, "the grab is taken before the HUD"
    shown = np.array(tuple(display.window.get_at((300, 90)))[:3])  # and the window shows it
    assert np.abs(shown - (200, 40, 120)).max() < step, shown
