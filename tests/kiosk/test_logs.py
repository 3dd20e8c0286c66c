"""Kiosk logging: a queue in front of the disk, folded repeats, rotation (real files)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from installation.kiosk.logs import DroppingQueueHandler, FoldingHandler, KioskLogging, RingHandler


def _record(msg: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.makeLogRecord(
        {
            "name": "installation.test",
            "levelno": level,
            "levelname": logging.getLevelName(level),
            "msg": msg,
        }
    )


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_back_to_back_repeats_fold_into_a_count() -> None:
    lines = Lines()
    fold = FoldingHandler(lines)
    for _ in range(100):
        fold.handle(_record("MIDI port gone"))
    fold.handle(_record("MIDI port back"))
    fold.handle(_record("MIDI port back", logging.ERROR))  # another level is another message
    assert lines.lines == [
        "MIDI port gone",
        "MIDI port gone (99 more times)",
        "MIDI port back",
        "MIDI port back",
    ]
    assert fold.folded == 99


def test_a_full_queue_drops_instead_of_making_the_caller_wait() -> None:
    handler = DroppingQueueHandler(queue.Queue(3))  # nobody reads it: a disk that hangs
    done = threading.Event()

    def log_a_lot() -> None:
        for i in range(50):
            handler.handle(_record(f"frame {i}"))
        done.set()

    threading.Thread(target=log_a_lot, daemon=True).start()
    assert done.wait(10), "logging waited on a full queue"
    assert handler.dropped == 47


def test_the_file_rotates_and_the_render_thread_only_queues(tmp_path: Path) -> None:
    file = tmp_path / "logs" / "installation.log"
    kiosk = KioskLogging(file, max_mb=0.002, backups=2, ring=RingHandler())
    kiosk.start()
    logger = logging.getLogger("installation.test.rotate")
    try:
        for i in range(200):
            logger.warning("line %d with some words to fill the file", i)
        logger.warning("the same again")
        logger.warning("the same again")
        logger.warning("the last line")
        deadline = time.monotonic() + 10
        while "the last line" not in (file.read_text() if file.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        kiosk.close()
    assert sorted(p.name for p in file.parent.iterdir()) == [
        "installation.log",
        "installation.log.1",
        "installation.log.2",
    ]
    text = file.read_text()
    assert "the same again (1 more times)" in text
    assert any("line 199" in line for line in kiosk.ring.lines)
    assert logging.getLogger().handlers.count(kiosk.handler) == 0  # removed on close


def test_taking_over_moves_the_root_handlers_behind_the_queue_and_back() -> None:
    root = logging.getLogger()
    lines = Lines()
    root.addHandler(lines)
    kiosk = KioskLogging(None, 1, 1, RingHandler(), take_over=True)
    try:
        kiosk.start()
        assert lines not in root.handlers and kiosk.handler in root.handlers
        logging.getLogger("installation.test").warning("through the queue")
        kiosk.close()
        assert "through the queue" in lines.lines  # written by the listener, flushed on close
        assert lines in root.handlers and kiosk.handler not in root.handlers
    finally:
        root.removeHandler(lines)
