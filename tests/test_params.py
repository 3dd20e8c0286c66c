"""The parameter registry: pure event application and frame-rate independent slewing."""

from __future__ import annotations

import math

from installation.events import ControlEvent, EventQueue
from installation.params import REGISTRY, address_of, apply_events, slew


def test_addresses_are_stable() -> None:
    assert address_of("walk.speed") == "/walk/speed"
    assert REGISTRY.params["latent.truncation"].address == "/latent/truncation"
    assert REGISTRY.actions["screenshot"].address == "/screenshot"


def test_latest_event_per_target_wins_and_values_are_clamped() -> None:
    targets = REGISTRY.initial_values()
    events = [
        ControlEvent("walk.speed", 1.0),
        ControlEvent("walk.speed", 9.0),
        ControlEvent("unknown.x", 1.0),
    ]
    new, actions = apply_events(REGISTRY, targets, events)
    assert new["walk.speed"] == 2.0  # clamped to the maximum
    assert actions == []
    assert targets["walk.speed"] == 0.25  # the input mapping is not mutated


def test_normalized_relative_and_bool_toggle() -> None:
    targets = REGISTRY.initial_values()
    new, _ = apply_events(
        REGISTRY, targets, [ControlEvent("latent.truncation", 0.25, normalized=True)]
    )
    assert math.isclose(new["latent.truncation"], 0.5)
    new, _ = apply_events(REGISTRY, new, [ControlEvent("latent.truncation", 0.1, relative=True)])
    assert math.isclose(new["latent.truncation"], 0.6)
    new, _ = apply_events(REGISTRY, new, [ControlEvent("walk.paused", relative=True)])
    assert new["walk.paused"] == 1.0
    new, _ = apply_events(REGISTRY, new, [ControlEvent("walk.paused", relative=True)])
    assert new["walk.paused"] == 0.0


def test_non_finite_values_never_reach_a_parameter() -> None:
    targets = REGISTRY.initial_values()
    new, _ = apply_events(REGISTRY, targets, [ControlEvent("walk.speed", float("nan"))])
    assert new["walk.speed"] == REGISTRY.params["walk.speed"].default


def test_actions_are_returned_in_order() -> None:
    _, actions = apply_events(
        REGISTRY, REGISTRY.initial_values(), [ControlEvent("screenshot"), ControlEvent("quit")]
    )
    assert [a.target for a in actions] == ["screenshot", "quit"]


def test_slew_is_frame_rate_independent() -> None:
    values = REGISTRY.initial_values()
    targets = dict(values, **{"latent.truncation": 1.8})
    coarse = slew(REGISTRY, values, targets, 0.1)
    fine = dict(values)
    for _ in range(10):
        fine = slew(REGISTRY, fine, targets, 0.01)
    assert 0.8 < coarse["latent.truncation"] < 1.8
    assert math.isclose(coarse["latent.truncation"], fine["latent.truncation"], rel_tol=1e-9)
    # An unsmoothed parameter jumps straight to its target.
    targets["hud.visible"] = 1.0
    assert slew(REGISTRY, values, targets, 0.01)["hud.visible"] == 1.0


def test_event_queue_is_bounded_and_counts_drops() -> None:
    q = EventQueue(maxsize=3)
    assert all(q.put(ControlEvent("walk.speed", i)) for i in range(3))
    assert not q.put(ControlEvent("walk.speed", 99))
    assert q.dropped == 1
    assert [e.value for e in q.drain()] == [0, 1, 2]
    assert q.drain() == []
