"""Fixtures for the MIDI tests: a real JACK server and virtual devices on it.

Real MIDI, not mocks: this machine has no ALSA sequencer, so the tests carry MIDI between
virtual ports through a JACK server (its dummy driver needs no sound card). A running server
is used as is; otherwise one is started under a private name, if jackd is installed.
"""

from __future__ import annotations

import os

import pytest
from midi_helpers import FakeDevice

from installation.control.midi import jack


@pytest.fixture(scope="session")
def jack_server():
    """The name of a running JACK server (started here if needed), or a skip saying why."""
    name = jack.server_name()
    if jack.server_running(name):
        yield name
        return
    if jack.jackd_path() is None:
        reason = (
            "jackd is not installed: real MIDI tests need a JACK server "
            "(Debian: DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends jackd2)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it: a skip there would hide a broken setup
        pytest.skip(reason)
    private = f"installation-test-{os.getpid()}"
    proc = jack.start_server(private)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = private
    try:
        yield private
    finally:
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        jack.stop_server(proc)


@pytest.fixture
def device(jack_server):
    made: list[FakeDevice] = []

    def make(stem: str = "fake", **kw) -> FakeDevice:
        d = FakeDevice(stem, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()
