"""MIDI port names: what stays the same between boots, and what a device pattern selects.

Plain string work with no MIDI library, so the config schema can match profiles to ports.
"""

from __future__ import annotations

import re

# Our own rtmidi clients are named this (JACK renames duplicates "installation-01" ...), so
# the show never opens its own feedback outputs as inputs.
CLIENT_NAME = "installation"
_ALSA_NUMBERS = re.compile(r"\s+\d+:\d+$")


def stable_name(port: str) -> str:
    """A port name without ALSA's client:port numbers, which change between boots."""
    return _ALSA_NUMBERS.sub("", port).strip()


def is_ours(port: str) -> bool:
    return port.startswith(CLIENT_NAME)


def port_matches(port: str, pattern: str) -> bool:
    """Whether `pattern` ("all", or a case-insensitive name prefix) selects `port`.

    The prefix may also start any ':'-separated part of the name, so "nanoKONTROL2" selects
    both ALSA's "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0" and JACK's a2j bridge names
    ("a2j:nanoKONTROL2 [20] (capture): nanoKONTROL2 MIDI 1").
    """
    if pattern in ("all", "*"):
        return True
    want = pattern.lower()
    name = stable_name(port).lower()
    return name.startswith(want) or any(
        part.strip().startswith(want) for part in name.split(":")[1:]
    )
