"""The stats contract: every event line has a time `t`."""

from __future__ import annotations

import time
from pathlib import Path

from installation.stats import StatsWriter, read_stats


def test_every_event_line_has_t_and_a_given_t_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    writer = StatsWriter(path)
    before = time.monotonic()
    writer.event("osc_listening", host="127.0.0.1", port=9000)
    writer.event("swap", t=12.5, frame=3)
    writer.close()
    _, events = read_stats(path)
    assert before <= events[0]["t"] <= time.monotonic()
    assert events[1]["t"] == 12.5
