"""The address space: generated from the registry, patterns, mappings, feedback."""

from __future__ import annotations

import pytest

from installation.control.osc.config import OscConfig, OscMapping
from installation.control.osc.parse import Message, OscParseError
from installation.control.osc.space import AddressSpace, pattern_regex
from installation.params import REGISTRY, address_of


def resolve(space: AddressSpace, address: str, *args: object):
    resolved, status = space.resolve(Message(address, args), "osc:1.2.3.4:5", 0.0)
    return [(e.target, e.value, e.normalized) for e in resolved], status


def test_every_parameter_and_remote_action_has_an_address() -> None:
    space = AddressSpace(REGISTRY)
    for name in REGISTRY.params:
        assert address_of(name) in space.table
        assert "/norm" + address_of(name) in space.table
    for action in REGISTRY.actions.values():
        assert (action.address in space.table) == action.remote
    assert "/quit" not in space.table  # only the local keyboard may stop the show
    assert "/status" in space.table


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("/walk/*", ["/walk/beats", "/walk/paused", "/walk/speed", "/walk/sync"]),
        ("/walk/sp??d", ["/walk/speed"]),
        ("/walk/[ps]*", ["/walk/paused", "/walk/speed", "/walk/sync"]),
        ("/walk/[!p]*", ["/walk/beats", "/walk/speed", "/walk/sync"]),
        ("/walk/[a-r]aused", ["/walk/paused"]),
        (
            "/{walk,hud}/*",
            ["/hud/visible", "/walk/beats", "/walk/paused", "/walk/speed", "/walk/sync"],
        ),
        ("/*/speed", ["/drift/speed", "/walk/speed"]),
        ("/*", ["/beat", "/learn", "/screenshot", "/status", "/tempo"]),  # * never crosses a /
        ("/nothing/*", []),
    ],
)
def test_osc_1_0_patterns(pattern: str, matches: list[str]) -> None:
    assert sorted(AddressSpace(REGISTRY).match(pattern)) == matches


def test_bad_patterns_are_rejected_cheaply() -> None:
    for bad in ["/[abc", "/{a,b", "/" + "*a" * 20, "/" + "x" * 300, "/[z-a]"]:
        with pytest.raises(OscParseError) as info:
            pattern_regex(bad)
        assert info.value.reason == "pattern"


def test_argument_types() -> None:
    space = AddressSpace(REGISTRY)
    assert resolve(space, "/walk/speed", 1) == ([("walk.speed", 1.0, False)], False)
    assert resolve(space, "/walk/speed", -0.5) == ([("walk.speed", -0.5, False)], False)
    assert resolve(space, "/walk/speed", "0.75") == ([("walk.speed", 0.75, False)], False)
    assert resolve(space, "/walk/paused", True)[0] == [("walk.paused", 1.0, False)]
    assert resolve(space, "/walk/paused", "off")[0] == [("walk.paused", 0.0, False)]
    assert resolve(space, "/norm/walk/speed", 0.75, 99) == ([("walk.speed", 0.75, True)], False)
    assert resolve(space, "/norm/walk/speed", 7.0)[0] == [("walk.speed", 1.0, True)]  # clamped
    for args in [(), ("fast",), (None,), (b"blob",), (float("nan"),)]:
        with pytest.raises(OscParseError) as info:
            resolve(space, "/walk/speed", *args)
        assert info.value.reason == "bad_args"
    with pytest.raises(OscParseError) as info:
        resolve(space, "/walk/sped", 1.0)
    assert info.value.reason == "unknown_address"


def test_buttons_trigger_on_press_not_on_release() -> None:
    space = AddressSpace(REGISTRY)
    assert resolve(space, "/screenshot")[0] == [("screenshot", 1.0, False)]
    assert resolve(space, "/screenshot", 1.0)[0] == [("screenshot", 1.0, False)]
    assert resolve(space, "/screenshot", 0.0)[0] == []
    assert resolve(space, "/screenshot", "bang")[0] == [("screenshot", 1.0, False)]
    assert resolve(space, "/status") == ([], True)


def test_mappings_with_ranges_curves_invert_and_multiple_arguments() -> None:
    config = OscConfig(
        mappings=[
            OscMapping(address="/xy", target="walk.speed", arg=0),
            OscMapping(
                address="/xy", target="latent.truncation", arg=1, input=(0, 127), output=(0.5, 1.5)
            ),
            OscMapping(
                address="/fade", target="output.brightness", curve="exponential", invert=True
            ),
            OscMapping(address="/go", target="cue.next", input=(0, 127)),
        ]
    )
    space = AddressSpace(REGISTRY, config.mappings)
    events, _ = resolve(space, "/xy", 0.75, 127)
    assert events == [("walk.speed", pytest.approx(1.0), False), ("latent.truncation", 1.5, False)]
    assert resolve(space, "/fade", 1.0)[0] == [("output.brightness", 0.0, False)]
    assert resolve(space, "/fade", 0.5)[0][0][1] == pytest.approx((10**0.5 - 1) / 9)
    assert resolve(space, "/go", 127)[0] == [("cue.next", 1.0, False)]
    assert resolve(space, "/go", 10)[0] == []
    with pytest.raises(OscParseError):
        resolve(space, "/xy", 0.5)  # argument 1 missing


def test_feedback_addresses_in_each_scale() -> None:
    config = OscConfig(mappings=[OscMapping(address="/1/fader1", target="walk.speed", invert=True)])
    space = AddressSpace(REGISTRY, config.mappings)
    assert dict(space.feedback("walk.speed", 1.0)) == {
        "/walk/speed": 1.0,
        "/norm/walk/speed": 0.75,
        "/1/fader1": 0.25,
    }
    assert dict(space.feedback("walk.paused", 1.0))["/walk/paused"] is True
    assert space.feedback("screenshot", 1.0) == []


def test_mapping_config_errors_are_precise() -> None:
    from pydantic import ValidationError

    for bad, text in [
        ({"address": "/a", "target": "walk.sped"}, "did you mean 'walk.speed'"),
        ({"address": "/a/*", "target": "walk.speed"}, "plain address"),
        ({"address": "/a", "target": "quit"}, "unknown target"),
        ({"address": "/a", "target": "walk.speed", "input": [1, 1]}, "two different ends"),
    ]:
        with pytest.raises(ValidationError, match=text):
            OscMapping(**bad)
    with pytest.raises(ValidationError, match="built-in"):
        OscConfig(mappings=[{"address": "/walk/speed", "target": "walk.speed"}])
    with pytest.raises(ValidationError, match="CIDR"):
        OscConfig(allow=["10.0.0.0/33"])
    with pytest.raises(ValidationError, match="not an IP address"):
        OscConfig(host="my-laptop")
