"""Waiting on a condition with a deadline, the one way tests synchronise with other threads
and processes (a fixed sleep is either too short on a loaded machine or wastes time)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.002
) -> bool:
    """True as soon as `predicate()` holds; False if it still does not after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
