"""The kiosk's part inside the show process: frame guard, heartbeat, saved state, health.

app.connect_kiosk plugs it into the loop's hooks. On the render thread it only does cheap,
non-blocking things: the guard's per-frame judgement (plus one float into a ring of frame
times), and a few times a second (the status sink) a heartbeat datagram and a snapshot
dict handed over whole. The state saver, the health endpoint and the log file each have
their own thread and read only those snapshots.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installation.checkpoints import LoadedModel
from installation.kiosk.config import KioskConfig
from installation.kiosk.guard import FrameGuard, GuardSettings
from installation.kiosk.health import HealthServer, png_bytes
from installation.kiosk.heap import HeapTrimmer
from installation.kiosk.heartbeat import HeartbeatSender
from installation.kiosk.logs import KioskLogging, RingHandler
from installation.kiosk.restore import KioskSpec, Restored
from installation.kiosk.state import StateSaver, snapshot

if TYPE_CHECKING:
    from installation.render.loop import RenderLoop

log = logging.getLogger(__name__)

FRAME_TIMES = 1200  # the frame-time ring /health's p99 is taken over (~20 s at 60 fps)


def rss_mb() -> float:
    """Resident memory in MB (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if os.uname().sysname == "Darwin" else 1024)


class KioskService:
    def __init__(
        self,
        config: KioskConfig,
        *,
        state_dir: Path,
        log_file: Path | None,
        spec: KioskSpec | None,
        restored: Restored | None,
        first_model: LoadedModel,
        trainer_state: Any = None,
        inputs: Any = None,
    ) -> None:
        self.config, self.spec = config, spec
        self.loop: RenderLoop | None = None
        self.guard = FrameGuard(GuardSettings(config.stall_s, config.black_s, config.good_after_s))
        if (
            restored is not None
            and restored.last_good
            and Path(restored.last_good) == first_model.folder
        ):
            self.guard.last_good = first_model
        self.heartbeat = HeartbeatSender.from_env() if spec is not None else None
        self.saver = StateSaver(state_dir, config.save_every_s) if spec is not None else None
        self.trimmer = (
            HeapTrimmer(config.heap_trim_s)
            if spec is not None and config.heap_trim_s is not None
            else None
        )
        self.ring = RingHandler()
        self.logging = KioskLogging(
            log_file if spec is not None else None,
            config.log.max_mb,
            config.log.backups,
            self.ring,
            take_over=spec is not None,
        )
        self.trainer_state = trainer_state  # () -> dict, or None without a trainer
        self.inputs = inputs  # () -> {"osc": counters}: accepted and rejected input
        self._frame_ms: deque[float] = deque(maxlen=FRAME_TIMES)
        self._snapshot: dict[str, Any] = {"starting": True}
        self._shown: tuple[Any, int] | None = None  # (renderer, buffer index) on screen
        self.health: HealthServer | None = None
        self._statuses = 0
        self.reloader: Any = None  # kiosk/reload.ShowReloader, set by the composition root
        h = config.health
        if h.enabled:
            try:
                self.health = HealthServer(
                    h.host,
                    h.port,
                    token=h.token,
                    health=self.health_json,
                    screenshot=self.screenshot_png,
                    log_lines=self.log_lines,
                )
            except OSError as exc:  # the show matters more than its remote eyes
                log.error(
                    "the health endpoint cannot listen on %s:%d (%s); the show plays without it",
                    h.host,
                    h.port,
                    exc,
                )

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.logging.start()
        if self.reloader is not None:
            self.reloader.start()
        if self.saver is not None:
            self.saver.start()
        if self.trimmer is not None:
            self.trimmer.start()
        if self.health is not None:
            self.health.start()

    def stop(self) -> None:
        if self.reloader is not None:
            self.reloader.stop()
        if self.health is not None:
            self.health.stop()
        if self.saver is not None:
            self.saver.stop()
        if self.trimmer is not None:
            self.trimmer.stop()
        if self.heartbeat is not None:
            self.heartbeat.close()
        self.logging.close()

    # -- on the render thread -----------------------------------------------------------
    def after_frame(
        self, loop: RenderLoop, index: int | None, work_ms: float, now: float
    ) -> LoadedModel | None:
        frame_ms = loop._last_frame_ms  # present to present, what /health's p99 is of
        if frame_ms > 0:
            self._frame_ms.append(frame_ms)
        return self.guard.after_frame(loop, index, work_ms, now)

    def on_status(self, status: dict[str, object]) -> None:
        loop = self.loop
        if loop is None:
            return
        self._statuses += 1
        if self._statuses % 4 == 0:  # about once a second: a display that came back
            loop.display.check_displays()
        if self.heartbeat is not None:
            self.heartbeat.beat(loop.frame, float(status.get("uptime", 0.0)))  # type: ignore[arg-type]
        model = loop.renderer.model
        good = self.guard.last_good
        if self.saver is not None:
            self.saver.offer(
                snapshot(
                    os.path.abspath(model.folder),
                    os.path.abspath(good.folder) if good else None,
                    loop.targets,
                    loop.phase,
                    os.getpid(),
                )
            )
        shown = getattr(loop, "_shown_index", None)
        self._shown = (loop.renderer, shown) if shown is not None else None
        self._snapshot = {
            **status,
            "model_folder": str(model.folder),
            "refused": dict(loop.refused),
            "targets": dict(loop.targets),
            "published": time.monotonic(),
        }

    # -- on the health thread -----------------------------------------------------------
    def health_json(self) -> dict[str, Any]:
        snap = dict(self._snapshot)
        times = sorted(self._frame_ms)
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))] if times else None
        spec = self.spec
        good = self.guard.last_good
        error = snap.get("error") or self.ring.last_error or (spec.error if spec else "")
        return {
            "ok": not snap.get("starting")
            and time.monotonic() - float(snap.get("published", 0)) < 5.0,
            "pid": os.getpid(),
            "fps": snap.get("fps"),
            "frame_p99_ms": round(p99, 2) if p99 else None,
            "frame": snap.get("frame"),
            "uptime_s": snap.get("uptime"),
            "model": {
                "id": snap.get("model"),
                "version": snap.get("version"),
                "folder": snap.get("model_folder"),
                "last_good": str(good.folder) if good else None,
            },
            "device": snap.get("device"),
            "params": snap.get("targets", {}),
            "restarts": spec.restarts if spec else 0,
            "fallback_level": spec.level if spec else 0,
            "recoveries": snap.get("recoveries", 0),
            "refused_frames": snap.get("refused", {}),
            "last_error": error,
            "memory_mb": round(rss_mb(), 1),
            "heap_trim": self.trimmer.status() if self.trimmer else None,
            "threads": threading.active_count(),
            "trainer": self.trainer_state() if self.trainer_state else None,
            "inputs": self.inputs() if self.inputs else {},
            "state_saves": self.saver.saves if self.saver else None,
            "log_dropped": self.logging.handler.dropped,
        }

    def screenshot_png(self) -> bytes | None:
        shown = self._shown
        if shown is None:
            return None
        renderer, index = shown
        pixels = renderer.host_arrays[index].copy()  # may catch a frame mid-write: cosmetic
        lay = renderer.layout
        return png_bytes(pixels[..., [lay.r, lay.g, lay.b]])

    def log_lines(self, n: int) -> list[str]:
        return list(self.ring.lines)[-n:]
