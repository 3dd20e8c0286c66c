"""Hot-swap in a running show: the real loop, display (SDL dummy), watcher and service.

Each test builds a show from a dict, with a drop folder under `hotswap.watch`, and steps the
real render loop frame by frame on this (the main) thread while checkpoints arrive, some of
them written by separate processes with the package's own save_checkpoint.
"""

from __future__ import annotations

import subprocess
import time

import pygame
import pytest

from installation.app import RunOptions, ShowRuntime
from installation.checkpoints import CARD_FILE, WEIGHTS_FILE, save_checkpoint
from installation.config.show import parse_show
from installation.live.service import LiveModels
from installation.stats import read_stats
from tests.live._hotswap_util import TINY, make_model, save, script, script_env

FPS = 30
# Generous: a checkpoint is stable after ~2 polls (0.1 s) and validated in well under a
# second; 3 s of frames leaves room for a machine shared with other work.
SWAP_WITHIN_FRAMES = 3 * FPS


class Show:
    def __init__(self, tmp_path, **hotswap):
        self.tmp = tmp_path
        save(tmp_path / "models" / "show", step=0, seed=100, name="show")
        self.drop = tmp_path / "drop"
        self.drop.mkdir()
        data = {
            "model": {"path": "models/show", "device": "cpu"},
            "display": {"fps": FPS, "fullscreen": False, "vsync": False, "hud": True},
            "hotswap": {
                "watch": ["drop"],
                "poll_s": 0.05,
                "stable_polls": 2,
                "give_up_s": 1.0,
                "crossfade_s": 0.2,
                **hotswap,
            },
            "osc": {"enabled": False},
            "midi": {"enabled": False},  # no ports to bind here
        }
        self.stats_path = tmp_path / "stats.jsonl"
        self.runtime = ShowRuntime(
            parse_show(data, base_dir=tmp_path),
            RunOptions(headless=True, size=(64, 64), stats=self.stats_path),
        )
        self.loop = self.runtime.build_loop()
        self.runtime.start_services()
        self.service = next(s for s in self.runtime.services if isinstance(s, LiveModels))

    def events(self, name):
        return [e for e in read_stats(self.stats_path)[1] if e["event"] == name]

    def run_until(self, predicate, max_frames=10 * FPS):
        """Step the loop until predicate() holds; the number of frames it took."""
        for n in range(1, max_frames + 1):
            self.loop.step()
            time.sleep(1 / FPS)
            if predicate():
                return n
        raise AssertionError(
            f"not within {max_frames} frames; events: {read_stats(self.stats_path)[1]}"
        )

    def frames(self, n):
        for _ in range(n):
            self.loop.step()
            time.sleep(1 / FPS)

    def key(self, key):
        pygame.event.post(
            pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0)
        )

    def close(self):
        self.runtime.close()


@pytest.fixture
def show(tmp_path, request):
    s = Show(tmp_path, **getattr(request, "param", {}))
    yield s
    s.close()


def test_a_checkpoint_from_another_process_is_swapped_in_with_a_crossfade(show):
    show.frames(3)
    subprocess.run(
        script("save", str(show.drop / "a"), "--step", "5"), env=script_env(), check=True
    )
    frames = show.run_until(lambda: show.events("swap"))
    assert frames <= SWAP_WITHIN_FRAMES
    (swap,) = show.events("swap")
    assert swap["model"]["version"] == 5 and swap["previous"]["id"] == "show"
    assert show.loop.renderer.model.version == 5
    assert show.loop.renderer.previous is not None  # crossfading from the old model
    show.frames(int(0.4 * FPS))
    assert show.loop.renderer.previous is None
    assert any("swap live v5" in line for line in show.service.hud_lines())
    frames, _ = read_stats(show.stats_path)
    assert frames[-1]["model"] == {"id": "live", "version": 5}


def _truncated(folder):
    save(folder, step=11)
    data = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(data[: len(data) // 3])


def _nan(folder):
    module = make_model(12)
    module.to_rgb.bias.data[0] = float("inf")
    save_checkpoint(folder, module, name="live", architecture="dcgan", config=TINY, step=12)


def _wrong_shape(folder):
    save(folder, step=13, config={"latent_dim": 16, "resolution": 32, "width": 4, "channels": 3})
    text = (folder / CARD_FILE).read_text().replace('"width": 4', '"width": 8')
    (folder / CARD_FILE).write_text(text)


def _collapsed(folder):
    module = make_model(14)
    module.to_rgb.weight.data.zero_()
    save_checkpoint(folder, module, name="live", architecture="dcgan", config=TINY, step=14)


def _pickle(folder):
    import hashlib
    import io
    import json

    import torch

    save(folder, step=15)
    buf = io.BytesIO()
    torch.save(make_model(15).state_dict(), buf)
    (folder / WEIGHTS_FILE).write_bytes(buf.getvalue())
    card = json.loads((folder / CARD_FILE).read_text())
    card["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (folder / CARD_FILE).write_text(json.dumps(card))


@pytest.mark.parametrize(
    "write, reason",
    [
        (_truncated, "sha256"),
        (_nan, "NaN"),
        (_wrong_shape, "shape"),
        (_collapsed, "collapsed"),
        (_pickle, "safetensors"),
    ],
)
def test_bad_checkpoints_are_rejected_and_the_show_plays_on(show, write, reason):
    before = show.loop.renderer.model
    show.frames(2)
    write(show.tmp / "staging")  # made whole elsewhere, then moved in at once
    (show.tmp / "staging").rename(show.drop / "bad")
    show.run_until(lambda: show.events("reject"))
    (reject,) = show.events("reject")
    assert reason in reject["reason"]
    assert reject["folder"].endswith("bad")
    show.frames(5)
    assert show.loop.renderer.model is before
    assert show.events("swap") == [] and show.events("render_error") == []
    assert any(line.startswith("last: reject") for line in show.service.hud_lines())


def test_a_slow_copy_is_read_only_once_complete(show, tmp_path):
    save(tmp_path / "source", step=21)
    # Pauses (0.15 s) longer than the stability window (2 polls of 0.05 s): the watcher sees
    # a stable but partial file many times, and the hash check must hold it back.
    copier = subprocess.Popen(
        script(
            "slow-copy",
            str(tmp_path / "source"),
            str(show.drop / "copied"),
            "--chunks",
            "6",
            "--delay",
            "0.15",
        ),
        env=script_env(),
    )
    show.run_until(lambda: copier.poll() is not None, max_frames=20 * FPS)
    assert copier.returncode == 0
    show.run_until(lambda: show.events("swap"))
    assert show.events("reject") == []
    assert show.service.validations == 1
    assert (
        show.loop.renderer.model.card.sha256
        == (show.drop / "copied" / CARD_FILE).read_text().split('"sha256": "')[1][:64]
    )


@pytest.mark.parametrize("show", [{"stable_polls": 4}], indirect=True)
def test_a_burst_swaps_in_only_the_newest(show):
    show.frames(2)
    modules = {step: make_model(step) for step in range(31, 36)}
    for step, module in modules.items():  # five checkpoints within milliseconds
        save_checkpoint(
            show.drop / f"burst-{step}",
            module,
            name="live",
            architecture="dcgan",
            config=TINY,
            step=step,
        )
    show.run_until(lambda: show.events("swap"))
    show.frames(int(0.5 * FPS))
    assert [e["model"]["version"] for e in show.events("swap")] == [35]


def test_operator_steps_back_pins_and_returns_to_latest_from_the_keyboard(show):
    save(show.drop / "a", step=41)
    show.run_until(lambda: len(show.events("swap")) == 1)
    save(show.drop / "b", step=42)
    show.run_until(lambda: len(show.events("swap")) == 2)
    show.key(pygame.K_b)  # back: to v41, and pinned
    show.run_until(lambda: len(show.events("swap")) == 3)
    assert show.loop.renderer.model.version == 41
    show.frames(2)
    assert show.loop.targets["model.pinned"] == 1.0
    save(show.drop / "c", step=43)  # arrives while pinned: validated, waits
    show.run_until(lambda: show.events("validated")[-1]["model"]["version"] == 43)
    show.frames(5)
    assert show.loop.renderer.model.version == 41
    assert "v43 ready" in show.service.hud_lines()[0]
    show.key(pygame.K_n)  # latest: unpinned, v43 plays
    show.run_until(lambda: len(show.events("swap")) == 4)
    assert show.loop.renderer.model.version == 43
    show.frames(2)
    assert show.loop.targets["model.pinned"] == 0.0


def test_pin_from_a_remote_event_holds_new_checkpoints(show):
    from installation.events import ControlEvent

    show.loop.hooks.events.put(ControlEvent("model.pinned", 1.0, source="osc:test"))
    show.frames(3)
    save(show.drop / "a", step=51)
    show.run_until(lambda: show.events("validated"))
    show.frames(5)
    assert show.events("swap") == []
    show.loop.hooks.events.put(ControlEvent("model.pinned", 0.0, source="osc:test"))
    show.run_until(lambda: show.events("swap"))
    assert show.loop.renderer.model.version == 51


def test_a_different_resolution_and_latent_size_still_plays(show):
    config = {"latent_dim": 24, "resolution": 64, "width": 4, "channels": 3}
    save(show.drop / "big", step=61, config=config)
    show.run_until(lambda: show.events("swap"))
    show.frames(int(0.4 * FPS))
    assert show.loop.renderer.model.latent_dim == 24
    assert show.events("render_error") == []


@pytest.mark.parametrize("show", [{"crossfade_s": 1.0}], indirect=True)
def test_a_checkpoint_arriving_during_a_crossfade_waits_for_it_to_end(show):
    save(show.drop / "a", step=71)
    show.run_until(lambda: show.events("swap"))
    save(show.drop / "b", step=72)  # arrives while v71 is still fading in
    show.run_until(lambda: len(show.events("swap")) == 2)
    first, second = show.events("swap")
    assert second["model"]["version"] == 72
    assert second["t"] - first["t"] >= 1.0
