"""The address table command, README's generated copy, the default show, templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from osc_support import REPO

from installation.cli import main
from installation.config.show import ShowError, load_show, parse_show
from installation.control.osc.space import AddressSpace
from installation.params import REGISTRY


def test_addresses_command_prints_every_address(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    show = tmp_path / "show.yaml"
    show.write_text(
        "osc:\n  mappings:\n    - {address: /1/fader1, target: walk.speed, curve: exponential}\n",
        encoding="utf-8",
    )
    assert main(["osc", "addresses", str(show)]) == 0
    out = capsys.readouterr().out
    for address in [
        "/walk/speed",
        "/norm/walk/speed",
        "/latent/truncation",
        "/screenshot",
        "/cue/next",
        "/status",
        "/1/fader1",
    ]:
        assert address in out
    assert "-2..2" in out and "keyframes/s" in out and "exponential" in out
    assert "/quit" not in out


def test_show_errors_in_the_osc_section_name_key_and_line(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text(
        "osc:\n  port: 9000\n  mappings:\n    - address: /a\n      targte: walk.speed\n",
        encoding="utf-8",
    )
    with pytest.raises(ShowError, match=r"show.yaml:5: osc.mappings.0.targte: unknown key"):
        load_show(show)
    with pytest.raises(ShowError, match="osc.allow"):
        parse_show({"osc": {"allow": ["everyone"]}})


def test_the_default_show_listens_on_localhost_only() -> None:
    osc = load_show(REPO / "show.yaml").osc
    assert osc.enabled and osc.host == "127.0.0.1" and osc.port == 9000


def sent_addresses(template: str, data: dict) -> set[str]:
    """Addresses a template sends to (or routes from) the show."""
    found: set[str] = set()
    if template.endswith(".json"):  # Open Stage Control: every widget's address
        stack = [data["content"]]
        while stack:
            widget = stack.pop()
            stack += widget.get("widgets", []) + widget.get("tabs", [])
            if widget.get("address", "auto") != "auto":
                found.add(widget["address"])
    else:  # Max: message boxes, [prepend /address] and [route /a /b ...]
        for entry in data["patcher"]["boxes"]:
            words = entry["box"].get("text", "").split()
            if entry["box"]["maxclass"] == "message":
                found.add(words[0])
            elif words and words[0] in ("prepend", "route"):
                found.update(w for w in words[1:] if w.startswith("/"))
    return found


@pytest.mark.parametrize("template", ["open-stage-control.json", "installation.maxpat"])
def test_controller_templates_use_real_addresses(template: str) -> None:
    data = json.loads((REPO / "controllers" / template).read_text(encoding="utf-8"))
    used = sent_addresses(template, data)
    space = AddressSpace(REGISTRY)
    assert {"/norm/walk/speed", "/screenshot", "/cue/next"} <= used
    unknown = {a for a in used if a not in space.table}
    assert not unknown, f"{template} uses addresses the show does not have: {unknown}"
