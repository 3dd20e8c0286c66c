"""MIDI input through mido and python-rtmidi: the show's MIDI service.

One service thread owns the ports: about once a second it looks at the port names (no
backend reports an unplug), closes inputs that vanished and opens the ones that (re)appeared
(a log line, a stats event, a HUD note); it sends the feedback queued by the main thread and
finishes MIDI learn. Each input port's rtmidi thread only decodes its bytes into
MidiMessages on the loop's bounded queue (decode.MidiReader); the loop's MIDI mapper step
maps them through the device's decoder (decode.MidiDecoder), which this service builds
and publishes (`decoders`; a decoder's table is replaced whole after MIDI learn). With no
MIDI system at all (no ALSA sequencer, no JACK server) it warns once and keeps looking
quietly: the show plays on.

Protocol code (mido, python-rtmidi) lives here and in the rest of control/ only.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from installation.control.midi.bindings import BindingTable, device_table
from installation.control.midi.config import (
    LoadedProfile,
    MidiConfig,
    MidiDevice,
    MidiSetup,
    ProfileError,
    find_profile,
    load_profile,
    load_setup,
    match_profile,
)
from installation.control.midi.decode import Counters, MidiDecoder, MidiReader
from installation.control.midi.feedback import FeedbackOutbox
from installation.control.midi.learn import LearnCapture, infer_mapping, save_learned
from installation.control.midi.names import port_matches, stable_name
from installation.control.midi.outproc import OutputHelper, RemoteOutput
from installation.control.midi.ports import (
    InputPort,
    MidiSystem,
    PortLister,
    choose_system,
    reap_retired,
)
from installation.control.midi.replay import MidiFileReplay
from installation.events import DeviceNotice, EventQueue
from installation.params import Registry
from installation.stats import StatsWriter

if TYPE_CHECKING:
    from installation.config.show import Show

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MidiStatus:
    system: str = ""
    problem: str = ""
    devices: tuple[tuple[str, str], ...] = ()  # (device, profile)
    messages: int = 0
    unmapped: int = 0
    invalid: int = 0
    sysex: int = 0
    feedback_dropped: int = 0
    learning: str | None = None


@dataclass
class _Open:
    port: str
    device: str
    reader: MidiReader
    decoder: MidiDecoder
    input: InputPort
    profile: LoadedProfile | None
    config: MidiDevice


class MidiService:
    def __init__(
        self,
        cfg: MidiConfig,
        setup: MidiSetup,
        *,
        registry: Registry,
        events: EventQueue,
        stats: StatsWriter | None = None,
        scenes: Mapping[str, Mapping[str, float]] | None = None,
        base_dir: Path = Path("."),
    ) -> None:
        self.cfg, self.setup, self.registry, self.events = cfg, setup, registry, events
        self.stats = stats or StatsWriter(None)
        self.scenes = {k: dict(v) for k, v in (scenes or {}).items()}
        self.base_dir = base_dir
        self.outbox = FeedbackOutbox()
        self._commands: queue.Queue[str | None] = queue.Queue()
        self._remaps: queue.Queue[tuple[MidiConfig, MidiSetup, dict]] = queue.Queue()
        self._learn = LearnCapture()
        self._learned = setup.learned
        self._system: MidiSystem | None = None
        self._lister: PortLister | None = None
        self._problem = ""
        self._warned = False
        self._failed: set[str] = set()
        self._inputs: dict[str, _Open] = {}
        self._outputs: dict[str, RemoteOutput] = {}
        self._helper = OutputHelper()
        self._tables: Mapping[str, BindingTable] = MappingProxyType({})
        # source -> decoder, for the loop's mapper step; replaced whole, and a closed
        # device's stays until it returns, for the messages it sent on its way out.
        self._decoders: Mapping[str, MidiDecoder] = MappingProxyType({})
        self._profiles: dict[str, LoadedProfile | None] = {}  # source -> profile, for learn
        self._status = MidiStatus()
        self._replays = self._make_replays()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="midi", daemon=True)

    # -- public, thread-safe -------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        for replay in self._replays:
            replay.start()

    def stop(self) -> None:
        for replay in self._replays:
            replay.stop()
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def arm(self, target: str | None) -> None:
        """Arm MIDI learn for a registry target (None cancels): the next control moved maps to it."""
        self._commands.put(target)

    def remap(
        self, cfg: MidiConfig, setup: MidiSetup, scenes: Mapping[str, Mapping[str, float]]
    ) -> None:
        """An edited show.yaml's `midi.mappings`, `midi.takeover` and `scenes:` (checked by
        kiosk/reload.py), for the service thread: every device's table is rebuilt whole."""
        self._remaps.put((cfg, setup, {k: dict(v) for k, v in scenes.items()}))

    def send(self, device: str, message: tuple[int, ...]) -> None:
        """Queue feedback for a device (the main thread's feedback hook calls this)."""
        self.outbox.put(device, message)

    def status(self) -> MidiStatus:
        return self._status

    def feedback_tables(self) -> Mapping[str, BindingTable]:
        return self._tables

    def decoders(self) -> Mapping[str, MidiDecoder]:
        """Each device's decoder by source, for the loop's MIDI mapper step (its thread only)."""
        return self._decoders

    def status_lines(self) -> list[str]:
        s = self._status
        if s.problem:
            return [f"MIDI off: {s.problem}"]
        if not s.devices:
            return [f"MIDI ({s.system}): no devices yet"] if s.system else []
        names = ", ".join(f"{d} [{p}]" for d, p in s.devices)
        return [
            f"MIDI: {names}",
            f"MIDI {s.messages} msgs, unmapped {s.unmapped}, invalid {s.invalid}, sysex {s.sysex}",
        ]

    # -- the service thread --------------------------------------------------------------
    def _run(self) -> None:
        next_scan = next_status = 0.0
        errors = 0
        try:
            while not self._stop.is_set():
                try:
                    self._take_commands()
                    now = time.monotonic()
                    if now >= next_scan:
                        self._scan()
                        reap_retired()  # inputs closed over a second ago (ports.py says why)
                        next_scan = now + self.cfg.poll_s
                    self._finish_learn(now)
                    if now >= next_status:
                        self._publish()
                        next_status = now + 0.25
                    self._flush(timeout=0.02)
                except Exception:  # the service must outlive any one bad moment
                    errors += 1
                    if errors <= 3:
                        log.exception("MIDI service error (it carries on)")
                    self._stop.wait(0.1)
        finally:
            self._close_all()

    def _scan(self) -> None:
        system = choose_system(self.cfg.api)
        if system.api is None:
            if self._system is not None:
                log.warning("MIDI system went away (%s); closing MIDI ports", system.problem)
                self._close_all()
            if not self._warned:
                log.warning(
                    "MIDI off: %s. The show plays on without MIDI and keeps looking.",
                    system.problem,
                )
                self.stats.event("midi_unavailable", t=time.monotonic(), reason=system.problem)
                self._warned = True
            self._problem = system.problem
            return
        if self._system is None or self._system.api != system.api:
            self._close_all()
            try:
                self._lister = PortLister(system)
            except Exception as exc:  # rtmidi.SystemError and co: say why, keep looking
                self._problem = f"{system.name}: {exc}"
                if not self._warned:
                    log.warning("MIDI off: %s. The show plays on without MIDI.", self._problem)
                    self._warned = True
                return
            self._system = system
            log.info("MIDI through %s", system.name)
        self._problem = ""
        assert self._lister is not None
        inputs, outputs = self._lister.names()
        wanted = {}
        for port in inputs:
            config = next((d for d in self.cfg.devices if port_matches(port, d.port)), None)
            if config is not None:
                wanted[port] = config
        notices = [
            self._close_input(port, "unplugged")
            for port in list(self._inputs)
            if port not in wanted
        ]
        for port, config in wanted.items():
            if port not in self._inputs:
                opened = self._open_input(system, port, config)
                if opened:
                    notices.append(opened)
        self._sync_outputs(system, outputs)
        for notice in notices:
            self.events.put(notice)

    def _open_input(self, system: MidiSystem, port: str, config: MidiDevice) -> DeviceNotice | None:
        device = stable_name(port)
        if any(o.device == device for o in self._inputs.values()):
            device = f"{device} #{len(self._inputs) + 1}"
        profile = self._profile_for(port, config)
        reader, decoder = self._decoder(device, profile)  # published before a message comes
        try:
            handle = InputPort(
                system, port, self._callback(reader), sysex=self.cfg.sysex, clock=self.cfg.clock
            )
        except OSError as exc:
            if port not in self._failed:
                log.warning("%s (will retry)", exc)
                self._failed.add(port)
            return None
        self._failed.discard(port)
        self._inputs[port] = _Open(port, device, reader, decoder, handle, profile, config)
        name = profile.stem if profile else "no profile"
        log.info("MIDI device connected: %s (profile %s)", device, name)
        self.stats.event(
            "midi_device",
            t=time.monotonic(),
            device=device,
            port=port,
            state="connected",
            profile=name,
        )
        return DeviceNotice("opened", f"{device} connected ({name})", device, source=decoder.source)

    def _close_input(self, port: str, why: str) -> DeviceNotice:
        opened = self._inputs.pop(port)
        opened.input.close()
        released = opened.decoder.release_all(time.monotonic())  # no gate stays on forever
        for event in released:
            self.events.put(event)
        log.warning(
            "MIDI device %s: %s%s",
            why,
            opened.device,
            f" (released {len(released)} held gate{'s' * (len(released) != 1)})"
            if released
            else "",
        )
        self.stats.event(
            "midi_device", t=time.monotonic(), device=opened.device, port=port, state=why
        )
        return DeviceNotice(
            "closed", f"{opened.device} {why}", opened.device, source=opened.decoder.source
        )

    def _callback(self, reader: MidiReader):
        def on_message(data) -> None:
            try:
                reader.feed(data, time.monotonic())
            except Exception:  # never raise into rtmidi's thread
                reader.counters.invalid += 1
                log.debug("MIDI decode error on %s", reader.device, exc_info=True)

        return on_message

    def _sync_outputs(self, system: MidiSystem, outputs: list[str]) -> None:
        """Open a feedback output for each input whose bindings ask for feedback."""
        tables: dict[str, BindingTable] = {}
        for opened in self._inputs.values():
            table = opened.decoder.table
            if not opened.config.feedback or not any(b.feedback for b in table.bindings):
                continue
            port = self._output_for(opened, outputs)
            if port is None:
                continue
            current = self._outputs.get(opened.device)
            if current is None or current.port != port:
                try:
                    # In the helper process: rtmidi holds the GIL while it opens a port.
                    self._outputs[opened.device] = RemoteOutput(self._helper, system.api, port)
                except OSError as exc:
                    log.warning("%s", exc)
                    continue
            tables[opened.device] = table
        for device in [d for d in self._outputs if d not in tables]:
            self._outputs.pop(device).close()
        self._tables = MappingProxyType(tables)

    def _output_for(self, opened: _Open, outputs: list[str]) -> str | None:
        pattern = opened.config.output or (
            opened.profile.profile.output if opened.profile else None
        )
        if pattern:
            return next((o for o in outputs if port_matches(o, pattern)), None)
        client = opened.device.split(":")[0]
        return next((o for o in outputs if stable_name(o) == opened.device), None) or next(
            (o for o in outputs if stable_name(o).split(":")[0] == client), None
        )

    def _flush(self, timeout: float) -> None:
        for device, msg in self.outbox.take(timeout):
            out = self._outputs.get(device)
            if out is not None:
                out.send(msg)

    # -- profiles, tables, learn ---------------------------------------------------------
    def _profile_for(self, name: str, config: MidiDevice) -> LoadedProfile | None:
        if config.profile == "none":
            return None
        if config.profile == "auto":
            return match_profile(self.setup.profiles, name)
        return find_profile(self.setup.profiles, config.profile, self.base_dir)

    def _table(self, device: str, profile: LoadedProfile | None) -> BindingTable:
        return device_table(device, profile, self._learned, self.cfg, self.registry)

    def _decoder(
        self, device: str, profile: LoadedProfile | None
    ) -> tuple[MidiReader, MidiDecoder]:
        """A device's reader (its input thread) and decoder (published for the mapper step)."""
        counters = Counters()
        decoder = MidiDecoder(
            device, self._table(device, profile), scenes=self.scenes, counters=counters
        )
        self._profiles[decoder.source] = profile
        self._decoders = MappingProxyType({**self._decoders, decoder.source: decoder})
        reader = MidiReader(
            device,
            self.events.put,
            clock=self.cfg.clock,
            capture=self._learn.offer,
            counters=counters,
        )
        return reader, decoder

    def _make_replays(self) -> list[MidiFileReplay]:
        replays = []
        for r in self.cfg.replay:
            path = Path(r.file) if Path(r.file).is_absolute() else self.base_dir / r.file
            name = r.name or path.stem
            profile = self._profile_for(name, MidiDevice(port=name, profile=r.profile))
            reader, _decoder = self._decoder(f"replay:{name}", profile)
            replays.append(MidiFileReplay(path, reader, loop=r.loop, speed=r.speed))
        return replays

    def _take_commands(self) -> None:
        while not self._remaps.empty():
            self._remap(*self._remaps.get_nowait())
        while True:
            try:
                self._learn.arm(self._commands.get_nowait())
            except queue.Empty:
                return

    def _remap(self, cfg: MidiConfig, setup: MidiSetup, scenes: dict) -> None:
        self.cfg = self.cfg.model_copy(update={"mappings": cfg.mappings, "takeover": cfg.takeover})
        self.setup, self._learned, self.scenes = setup, setup.learned, scenes
        by_path = {p.path: p for p in setup.profiles}  # a profile file may have changed too
        for source, decoder in self._decoders.items():
            old = self._profiles.get(source)
            self._profiles[source] = by_path.get(old.path, old) if old else None
            decoder.scenes = dict(scenes)
            decoder.table = self._table(decoder.device, self._profiles[source])
        for opened in self._inputs.values():
            opened.profile = self._profiles.get(opened.decoder.source, opened.profile)
        log.info("MIDI mappings reloaded for %d device(s)", len(self._decoders))

    def _finish_learn(self, now: float) -> None:
        target = self._learn.target
        captured = self._learn.ready(now)
        if target is None or captured is None:
            return
        device, messages = captured
        entry = infer_mapping(messages, target, self.registry)
        if entry is None:
            return  # e.g. only a note-off: stay armed
        self._learn.arm(None)
        try:
            save_learned(self.setup.learn_path, device, entry)
            self._learned = load_profile(self.setup.learn_path)
        except (OSError, ProfileError) as exc:
            log.error("MIDI learn could not save %s: %s", self.setup.learn_path, exc)
            self.events.put(DeviceNotice("learn-cancelled", f"learn failed: {exc}"[:120]))
            return
        for source, decoder in self._decoders.items():
            decoder.table = self._table(decoder.device, self._profiles[source])
        control = ", ".join(f"{k} {v}" for k, v in entry.items() if k != "target")
        log.info(
            "MIDI learn: %s %s -> %s (saved to %s)", device, control, target, self.setup.learn_path
        )
        self.stats.event(
            "midi_learn", t=now, device=device, mapping=entry, file=str(self.setup.learn_path)
        )
        self.events.put(
            DeviceNotice("learned", f"learned {control} on {device} -> {target}", device)
        )

    def _publish(self) -> None:
        readers = [o.reader for o in self._inputs.values()] + [r.reader for r in self._replays]
        total = {
            k: sum(getattr(d.counters, k) for d in readers)
            for k in ("messages", "unmapped", "invalid", "sysex")
        }
        devices = tuple(
            (o.device, o.profile.stem if o.profile else "no profile") for o in self._inputs.values()
        )
        devices += tuple(
            (r.reader.device, "replay") for r in self._replays if not r.finished.is_set()
        )
        self._status = MidiStatus(
            self._system.name if self._system else "",
            self._problem,
            devices,
            feedback_dropped=self.outbox.dropped,
            learning=self._learn.target,
            **total,
        )

    def _close_all(self) -> None:
        for port in list(self._inputs):
            opened = self._inputs.pop(port)
            opened.input.close()
            for event in opened.decoder.release_all(time.monotonic()):
                self.events.put(event)
        for device in list(self._outputs):
            self._outputs.pop(device).close()
        self._helper.close()
        self._tables = MappingProxyType({})
        if self._lister is not None:
            self._lister.close()
            self._lister = None
        self._system = None


def build_midi_service(
    show: Show, registry: Registry, stats: StatsWriter, events: EventQueue
) -> MidiService | None:
    """The show's MIDI service (None when `midi:` is off); app.py connects it to the loop."""
    if not show.midi.enabled:
        return None
    return MidiService(
        show.midi,
        load_setup(show),
        registry=registry,
        events=events,
        stats=stats,
        scenes=show.scenes,
        base_dir=show.base_dir,
    )
