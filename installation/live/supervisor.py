"""Running the trainer as a low-priority child process, kept alive for weeks.

Why a process and not a thread: measured on a 2-core CPU (docs/hotswap.md), a training
thread in the show's process holds the GIL between its torch calls and competes with the
render thread at the same OS priority, so frames come late. A child process at nice 19 gets
only what the render loop leaves over, and when it crashes or is killed the show does not
notice. A background thread here supervises it:

- starts it (torch threads limited through OMP_NUM_THREADS, priority lowered at once),
- restarts it with exponential back-off when it exits with an error or is killed (the delay
  resets after a run that lasted a while, so one crash a day never grows the wait),
- pauses and resumes it (SIGSTOP / SIGCONT to its process group: instant, keeps its state),
- limits its share of wall time (`cpu_share` < 1: the same signals, duty-cycled),
- changes that share and its CPU threads while it runs (`set_share`: the kiosk schedule
  gives training the whole machine outside show hours); threads reach the child as a line
  on its stdin pipe (training/lifeline.py), applied at its next step. Its nice value stays:
  lowering it back would need privileges, and nice only counts when the show competes,
  which at the schedule's idle frame rate it hardly does,
- stops it with SIGTERM (the trainer finishes its step and exits), then SIGKILL if it hangs,
- and makes it die with this process, however this one dies (training/lifeline.py).

The child's output goes to a log file; its last line is the reason shown when it fails.
Only this module's thread touches the child; callers just set flags (pause/resume/stop).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from installation.training.lifeline import child_env

log = logging.getLogger(__name__)

EventSink = Callable[..., None]  # stats.event(name, **fields)
MAX_LOG_BYTES = 5 * 1024 * 1024
DUTY_PERIOD_S = 0.5  # cpu_share < 1: run share * this, then stop the rest


@dataclass(frozen=True)
class TrainerStatus:
    """A snapshot for the HUD; replaced whole, never mutated."""

    state: str = "starting"  # starting running paused backoff finished stopped
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    last_error: str = ""
    retry_at: float | None = None  # time.monotonic() of the next start while backing off
    threads: int | None = None  # torch threads it may use now (None: as its command says)
    cpu_share: float = 1.0  # share of wall time it may run now


def last_line(path: Path, limit: int = 8192) -> str:
    """The last non-empty line of a log (progress bars end lines with \\r, so both count)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - limit))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.replace("\r", "\n").split("\n") if line.strip()]
    return lines[-1][:200] if lines else ""


class TrainerSupervisor:
    def __init__(
        self,
        command: Callable[[], list[str]],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        nice: int = 19,
        cpu_share: float = 1.0,
        threads: int | None = None,  # what the command line gives the child
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 300.0,
        healthy_after_s: float = 60.0,
        stop_timeout_s: float = 15.0,
        stall_intervals: float = 5.0,
        min_stall_s: float = 60.0,
        on_event: EventSink | None = None,
    ) -> None:
        self.command, self.log_path, self.cwd = command, Path(log_path), cwd
        self.env = dict(os.environ if env is None else env)
        self.nice, self.cpu_share = nice, cpu_share
        self.threads = self._spawned_threads = threads
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.healthy_after_s, self.stop_timeout_s = healthy_after_s, stop_timeout_s
        # A trainer whose step has not moved for `stall_intervals` of its own save intervals
        # (and at least min_stall_s) is stuck (SIGSTOPped by someone, a hung device): restarted.
        self.stall_intervals, self.min_stall_s = stall_intervals, min_stall_s
        self._progress: tuple[int, float] | None = None  # last step seen, when
        self._save_interval: float | None = None
        self._on_event = on_event or (lambda name, **fields: None)
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._stall_reason = ""
        self.status = TrainerStatus(threads=threads, cpu_share=cpu_share)
        self._status_lock = threading.Lock()
        self.starts = 0  # how many times a child was started (tests and the HUD read it)

    # -- what other threads call (they only set flags) --------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trainer-supervisor", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._set(paused=True)

    def resume(self) -> None:
        self._set(paused=False)

    def set_share(self, threads: int | None, cpu_share: float) -> None:
        """How much of the machine training may take from now on: torch threads (None: as
        started) and the share of wall time (1.0: no duty cycle). Takes effect within a
        tick of the watching loop, and for every child started later."""
        with self._cond:
            self.threads, self.cpu_share = threads, cpu_share
            self._cond.notify_all()
        self._publish(threads=threads, cpu_share=cpu_share)  # /health shows it
        log.info(
            "trainer share: %s thread(s), %.0f%% of the time",
            threads or "its own",
            100 * cpu_share,
        )

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        self._set(stopping=True)
        if self._thread is not None:
            self._thread.join(self.stop_timeout_s + 5)

    def note_progress(self, step: int) -> None:
        """The step of the trainer's newest checkpoint (the live service reads its cards)."""
        now = time.monotonic()
        with self._cond:
            if self._progress is not None and step > self._progress[0]:
                self._save_interval = now - self._progress[1]
            if self._progress is None or step != self._progress[0]:
                self._progress = (step, now)

    def _stalled_for(self, now: float) -> float | None:
        """Seconds without progress, once that is long enough to call it stuck."""
        with self._cond:
            if self._progress is None or self._save_interval is None:
                return None  # it has not shown its pace yet (two checkpoints)
            quiet = now - self._progress[1]
            limit = max(self.min_stall_s, self.stall_intervals * self._save_interval)
        return quiet if quiet >= limit else None

    def _set(self, paused: bool | None = None, stopping: bool | None = None) -> None:
        with self._cond:
            if paused is not None:
                self._paused = paused
            if stopping is not None:
                self._stopping = stopping
            self._cond.notify_all()

    def _publish(self, **fields: object) -> None:
        with self._status_lock:  # set_share publishes from another thread
            self.status = replace(self.status, **fields)

    # -- the supervising thread ---------------------------------------------------------------
    def _run(self) -> None:
        delay = self.backoff_initial_s
        while True:
            with self._cond:
                if self._paused and not self._stopping:
                    self._publish(state="paused", pid=None)
                self._cond.wait_for(lambda: self._stopping or not self._paused)
                if self._stopping:
                    break
            try:
                proc = self._spawn()
            except OSError as exc:
                code, started, proc = -1, time.monotonic(), None
                self._publish(last_error=f"could not start the trainer: {exc}")
                log.error("could not start the trainer: %s", exc)
            else:
                started = time.monotonic()
                try:
                    code = self._watch(proc)
                finally:
                    if proc.stdin is not None:
                        proc.stdin.close()
            if self._stopping:
                break
            if code == 0 and not self._stall_reason:  # a stalled one stopped by us goes on
                log.info("trainer finished")
                self._publish(state="finished", pid=None, last_exit=0)
                self._on_event("trainer_exit", t=time.monotonic(), code=0, restart_in=None)
                return
            if time.monotonic() - started >= self.healthy_after_s:
                delay = self.backoff_initial_s  # it ran fine for a while: a fresh failure
            reason = last_line(self.log_path) if proc is not None else self.status.last_error
            if self._stall_reason:
                reason, self._stall_reason = self._stall_reason, ""
            log.warning(
                "trainer exited with %s (%s); restarting in %.1f s",
                code,
                reason or "no output",
                delay,
            )
            self._on_event(
                "trainer_exit", t=time.monotonic(), code=code, reason=reason, restart_in=delay
            )
            self._publish(
                state="backoff",
                pid=None,
                last_exit=code,
                last_error=reason,
                retry_at=time.monotonic() + delay,
            )
            with self._cond:
                if self._cond.wait_for(lambda: self._stopping, timeout=delay):
                    break
            delay = min(self.backoff_max_s, delay * 2)
            self._publish(restarts=self.status.restarts + 1, retry_at=None)
        self._publish(state="stopped", pid=None)

    def _spawn(self) -> subprocess.Popen:
        argv = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists() and self.log_path.stat().st_size > MAX_LOG_BYTES:
            os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        with open(self.log_path, "ab") as out:
            out.write(
                f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode()
            )
            out.flush()
            kwargs: dict = {}
            if os.name == "posix":
                # Its own process group (so signals reach data-loader workers too), but the same
                # session: on Linux a new session is a new autogroup, where nice stops counting.
                if sys.version_info >= (3, 11):
                    kwargs["process_group"] = 0
                else:
                    kwargs["preexec_fn"] = os.setpgrp
            # Its stdin is a pipe this process holds and never writes: the child's lifeline
            # (training/lifeline.py), closed by the OS however this process dies.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(self.env),
                cwd=self.cwd,
                **kwargs,
            )
        self._renice(proc.pid)
        self.starts += 1
        self._restart_clock(time.monotonic())  # a fresh child gets a fresh allowance
        log.info("trainer started (pid %d): %s", proc.pid, " ".join(argv))
        self._on_event(
            "trainer_start", t=time.monotonic(), pid=proc.pid, restarts=self.status.restarts
        )
        self._publish(state="running", pid=proc.pid)
        return proc

    def _renice(self, pid: int) -> None:
        if not hasattr(os, "setpriority"):
            return
        # Threads inherit their creator's nice value; the child has only its main thread yet.
        target = max(self.nice, os.getpriority(os.PRIO_PROCESS, 0))
        try:
            os.setpriority(os.PRIO_PROCESS, pid, target)
        except OSError as exc:
            log.warning("could not lower the trainer's priority to nice %d: %s", target, exc)

    def _signal(self, proc: subprocess.Popen, sig: int) -> None:
        if proc.poll() is not None:  # reaped: its pid may belong to someone else now
            return
        try:
            if os.name == "posix":
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _watch(self, proc: subprocess.Popen) -> int:
        """Wait for the child to exit, applying pause, duty cycle and stop; its exit code."""
        stopped = False  # whether we have SIGSTOPped it
        told = self._spawned_threads  # the thread count the child has (its command line)
        phase_start = time.monotonic()
        while proc.poll() is None:
            with self._cond:
                self._cond.wait(timeout=0.05)
                stopping, paused = self._stopping, self._paused
                share, threads = self.cpu_share, self.threads
            if threads is not None and threads != told:
                told = threads if self._tell(proc, f"threads {threads}") else told
            if stopping:
                return self._terminate(proc)
            now = time.monotonic()
            if paused:
                self._restart_clock(now)  # a pause we asked for is not a stall
            elif (quiet := self._stalled_for(now)) is not None:
                step = self._progress[0] if self._progress else None
                reason = (
                    f"no progress for {quiet:.0f} s (step {step}): stuck or stopped; restarting it"
                )
                log.warning("trainer (pid %d): %s", proc.pid, reason)
                self._on_event(
                    "trainer_stalled", t=now, pid=proc.pid, step=step, seconds=round(quiet, 1)
                )
                self._stall_reason = reason
                return self._terminate(proc)
            in_off_phase = (
                share < 1.0 and (now - phase_start) % DUTY_PERIOD_S >= share * DUTY_PERIOD_S
            )
            want_stopped = paused or in_off_phase
            if want_stopped != stopped and os.name == "posix":
                self._signal(proc, signal.SIGSTOP if want_stopped else signal.SIGCONT)
                stopped = want_stopped
                if paused or self.status.state == "paused":
                    self._publish(state="paused" if paused else "running")
                    self._on_event("training_paused" if paused else "training_resumed", t=now)
        return proc.returncode

    def _tell(self, proc: subprocess.Popen, line: str) -> bool:
        """A request on the child's stdin (its lifeline pipe); False when it cannot take it."""
        try:
            assert proc.stdin is not None
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        except (OSError, ValueError, AssertionError):
            return False
        log.info("trainer (pid %d): %s", proc.pid, line)
        return True

    def _restart_clock(self, now: float) -> None:
        with self._cond:
            if self._progress is not None:
                self._progress = (self._progress[0], now)

    def _terminate(self, proc: subprocess.Popen) -> int:
        if os.name == "posix":
            self._signal(proc, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            self._signal(proc, signal.SIGTERM)
        else:
            proc.terminate()
        try:
            return proc.wait(self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("trainer did not stop within %.0f s; killing it", self.stop_timeout_s)
            self._signal(proc, signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
            return proc.wait()
