"""`installation run --kiosk`: a parent process that keeps the show going.

The show runs as a child process (kiosk/child.py). The supervisor:
- reads the show's render heartbeat (kiosk/heartbeat.py); no beat for `wedged_s` (or no
  first frame within `start_timeout_s`) means the process is wedged: SIGKILL, restart.
  (A slow frame that ends is the show's own business first: kiosk/guard.py recovers it.)
- restarts the show whenever it dies. The restarted show comes back into the saved state
  (kiosk/state.py): model, parameter targets, the walk's phase.
- keeps a warm standby process (torch and the package already imported), so a restart costs
  opening the display and loading the model, not Python's imports: seconds, not tens.
- limits crash loops: `restarts` restarts within `restart_window_min` move to the next
  fallback: 0 the show as saved, 1 its last known good model, 2 the default show (no
  controllers, no training), 3 a still frame that shows the error. From the still frame it
  tries the real show again after one quiet window.
- speaks sd_notify (READY=1 at the first frame, WATCHDOG=1 while it runs, STATUS=...).

Exit 0 when the show was quit on purpose (Esc, /quit) or the supervisor was stopped (SIGTERM).
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from installation.files import atomic_write_bytes
from installation.kiosk.config import KioskConfig
from installation.kiosk.heartbeat import HEARTBEAT_FD_ENV, heartbeat_pair, read_beats
from installation.kiosk.notify import sd_notify, watchdog_interval_s
from installation.kiosk.schedule import EXIT_RESTART

log = logging.getLogger(__name__)

LEVELS = (
    "the show as saved",
    "its last known good model",
    "the default show",
    "a still frame with the error",
)
STILL = len(LEVELS) - 1
KILL_GRACE_S = 3.0
EXIT_USER_ERROR = 2  # cli.EXIT_USER_ERROR
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")
STATUS_FILE = "supervisor.json"


@dataclass
class Child:
    """One show process (standby until `activate`)."""

    proc: subprocess.Popen
    beats: object  # the supervisor's socket end
    spawned: float = field(default_factory=time.monotonic)
    activated: float | None = None
    first_frame: float | None = None
    last_beat: float | None = None
    level: int = 0
    tail: deque = field(default_factory=lambda: deque(maxlen=20))

    standby_ready: bool = False

    def last_error(self) -> str:
        """The CLI's one-line user error, or a traceback's last line, from its stderr."""
        for line in reversed(self.tail):
            if line.startswith("installation: error:"):
                return line.removeprefix("installation: error:").strip()
            if EXCEPTION_LINE.match(line):
                return line.strip()
        return ""


class Supervisor:
    def __init__(
        self,
        argv: list[str],
        config: KioskConfig,
        *,
        state_dir: Path,
        child_command: list[str] | None = None,
    ) -> None:
        self.argv, self.config, self.state_dir = argv, config, state_dir
        self.child_command = child_command or [sys.executable, "-m", "installation.kiosk.child"]
        self.level = 0
        self.restarts = 0
        self.last_error = ""
        self.restart_s: list[float] = []  # death (or kill) to the first frame back, each time
        self._recent: deque[float] = deque()
        self._standby: Child | None = None
        self._stopping = False
        self._ready_sent = False
        self._died_at: float | None = None
        self._active: Child | None = None
        self._still_failures = 0

    # -- processes ----------------------------------------------------------------------
    def _spawn(self) -> Child:
        ours, theirs = heartbeat_pair()
        env = {**os.environ, HEARTBEAT_FD_ENV: str(theirs.fileno())}
        proc = subprocess.Popen(
            self.child_command,
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=[theirs.fileno()],
            env=env,
        )
        theirs.close()
        child = Child(proc, ours)
        threading.Thread(
            target=self._forward_stderr, args=(child,), name=f"kiosk-stderr-{proc.pid}", daemon=True
        ).start()
        return child

    def _forward_stderr(self, child: Child) -> None:
        """The child's stderr goes on to ours (the journal); its tail is the error we report."""
        assert child.proc.stderr is not None
        with child.proc.stderr:  # until the child's end (EOF), then its pipe is closed
            for raw in child.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    child.tail.append(line)
                    sys.stderr.write(line + "\n")
                    sys.stderr.flush()

    def _activate(self, child: Child) -> None:
        spec = {
            "argv": self.argv,
            "level": self.level,
            "error": self.last_error,
            "restarts": self.restarts,
            "state_dir": str(self.state_dir),
        }
        child.level, child.activated = self.level, time.monotonic()
        assert child.proc.stdin is not None
        try:
            child.proc.stdin.write((json.dumps(spec) + "\n").encode())
            child.proc.stdin.close()
        except OSError:
            pass  # it died while waiting; its exit is seen by the watch loop
        log.info("kiosk: starting the show (pid %d): %s", child.proc.pid, LEVELS[self.level])
        sd_notify(f"STATUS=playing {LEVELS[self.level]} (restarts {self.restarts})")

    def _next_child(self) -> Child:
        standby = self._standby
        if standby is not None and standby.proc.poll() is not None:
            self._dispose(standby)  # it died waiting
            standby = None
        child = standby or self._spawn()
        self._standby = None
        self._activate(child)
        self._active = child
        if self.config.standby:
            self._standby = self._spawn()
        self._write_status(child)
        return child

    def _dispose(self, child: Child) -> None:
        """Kill if need be, and close everything of it that we hold (weeks of restarts
        must not leak a descriptor each)."""
        self._kill(child, graceful=False)
        for stream in (child.proc.stdin, child.beats):
            try:
                stream.close()  # type: ignore[union-attr]
            except (OSError, AttributeError):
                pass

    def _kill(self, child: Child, graceful: bool) -> None:
        if child.proc.poll() is not None:
            return
        if graceful:
            child.proc.send_signal(signal.SIGCONT)
            child.proc.terminate()
            try:
                child.proc.wait(KILL_GRACE_S * 3)
                return
            except subprocess.TimeoutExpired:
                pass
        child.proc.kill()
        child.proc.wait()

    # -- the watch loop -----------------------------------------------------------------
    def run(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        previous = {}
        if threading.current_thread() is threading.main_thread():  # (tests run it on a thread)
            previous = {s: signal.signal(s, self._on_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        watchdog = watchdog_interval_s()
        last_ping = 0.0
        child = self._next_child()
        try:
            while True:
                now = time.monotonic()
                if watchdog is not None and now - last_ping >= watchdog:
                    sd_notify("WATCHDOG=1")
                    last_ping = now
                if self._stopping:
                    self._kill(child, graceful=True)
                    return 0
                rc = child.proc.poll()
                if rc is not None:
                    if rc == 0:
                        log.info("kiosk: the show was quit; the supervisor ends too")
                        return 0
                    if rc == EXIT_RESTART:  # the schedule's daily restart: not a crash
                        log.info("kiosk: the daily restart")
                        self._dispose(child)
                        self._died_at = time.monotonic()
                        child = self._next_child()
                        continue
                    self._died(
                        child,
                        f"exited with code {rc}" if rc > 0 else f"killed by signal {-rc}",
                        user_error=rc == EXIT_USER_ERROR,
                    )
                    if self.level == STILL and child.level == STILL:
                        self._back_off()  # even the still frame fails (no display?): no spinning
                    child = self._next_child()
                    continue
                self._read(child)
                self._read_standby()
                wedged = self._wedged(child, now)
                if wedged:
                    log.error(
                        "kiosk: the show (pid %d) is wedged (%s); killing it",
                        child.proc.pid,
                        wedged,
                    )
                    self._kill(child, graceful=False)
                    self._died(child, f"wedged: {wedged}")
                    child = self._next_child()
                    continue
                if (
                    child.level == STILL
                    and child.first_frame is not None
                    and now - child.first_frame > self.config.restart_window_min * 60
                ):
                    log.info("kiosk: trying the show again after a quiet window on the still frame")
                    self.level = 0
                    self._kill(child, graceful=True)
                    self._dispose(child)
                    child = self._next_child()
                    continue
                select.select([child.beats], [], [], 0.1)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if self._standby is not None:
                self._dispose(self._standby)
            self._dispose(child)

    def _back_off(self) -> None:
        self._still_failures += 1
        delay = min(60.0, 2.0**self._still_failures)
        log.error("kiosk: the still frame failed too; trying again in %.0f s", delay)
        deadline = time.monotonic() + delay
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(0.1)

    def _on_stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _read_standby(self) -> None:
        standby = self._standby
        if standby is not None and not standby.standby_ready and read_beats(standby.beats):  # type: ignore[arg-type]
            standby.standby_ready = True
            self._write_status()

    def _write_status(self, child: Child | None = None) -> None:
        """supervisor.json in the state folder: for the technician, a test and the bench."""
        child = child or self._active
        status = {
            "pid": os.getpid(),
            "show_pid": child.proc.pid if child else None,
            "up": bool(child and child.first_frame is not None),
            "level": self.level,
            "fallback": LEVELS[self.level],
            "restarts": self.restarts,
            "last_error": self.last_error,
            "restart_s": [round(t, 3) for t in self.restart_s],
            "standby_ready": bool(self._standby and self._standby.standby_ready),
        }
        try:
            atomic_write_bytes(self.state_dir / STATUS_FILE, json.dumps(status, indent=1).encode())
        except OSError as exc:
            log.debug("could not write %s: %s", STATUS_FILE, exc)

    def _read(self, child: Child) -> None:
        beats = [b for b in read_beats(child.beats) if "frame" in b]  # type: ignore[arg-type]
        if not beats:
            return
        now = time.monotonic()
        child.last_beat = now
        if child.first_frame is None and any(b.get("frame", 0) > 0 for b in beats):
            child.first_frame = now
            since = self._died_at if self._died_at is not None else child.activated or now
            took = now - since
            if self._died_at is not None:
                self.restart_s.append(took)
                log.info(
                    "kiosk: the show is back (pid %d) %.2f s after it went down",
                    child.proc.pid,
                    took,
                )
            self._died_at = None
            if not self._ready_sent:
                self._ready_sent = sd_notify("READY=1", f"MAINPID={os.getpid()}") or True
            self._write_status(child)

    def _wedged(self, child: Child, now: float) -> str:
        if child.first_frame is None:
            waited = now - (child.activated or now)
            return (
                f"no first frame in {waited:.0f} s" if waited > self.config.start_timeout_s else ""
            )
        silent = now - (child.last_beat or child.first_frame)
        return f"no heartbeat for {silent:.1f} s" if silent > self.config.wedged_s else ""

    def _died(self, child: Child, how: str, user_error: bool = False) -> None:
        """Count a death; a user error (exit 2: the file or model is bad) will not heal by
        itself, so it moves to the next fallback at once."""
        now = time.monotonic()
        self._died_at = now
        self.restarts += 1
        self.last_error = child.last_error() or f"the show {how}"
        log.error(
            "kiosk: the show (pid %d) %s; last error: %s", child.proc.pid, how, self.last_error
        )
        self._recent.append(now)
        window = self.config.restart_window_min * 60
        while self._recent and now - self._recent[0] > window:
            self._recent.popleft()
        if (user_error or len(self._recent) >= self.config.restarts) and self.level < STILL:
            self.level += 1
            self._recent.clear()
            why = (
                "a user error"
                if user_error
                else (
                    f"{self.config.restarts} restarts within {self.config.restart_window_min:g} min"
                )
            )
            log.error("kiosk: %s; falling back to %s", why, LEVELS[self.level])
        self._dispose(child)


def supervise(argv: list[str], config: KioskConfig, state_dir: Path) -> int:
    """Run the show under a supervisor until it is quit or stopped; the exit code."""
    argv = [a for a in argv if a != "--kiosk"]
    return Supervisor(argv, config, state_dir=state_dir).run()
