"""The one-slot box that hands validated models to the running show.

`SwapBox` sits between whoever prepares models (the live model service) and the render
loop: offering a newer model replaces an untaken one, and taking never blocks, so the loop
swaps at a frame boundary and a burst of checkpoints costs one swap, not many.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class SwapBox(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self.replaced = 0  # offers overwritten before the loop took them

    def offer(self, item: T) -> T | None:
        """Put `item` in the box; returns the untaken item it replaced (None if empty)."""
        with self._lock:
            replaced = self._item
            if replaced is not None:
                self.replaced += 1
            self._item = item
            return replaced

    def take(self) -> T | None:
        with self._lock:
            item, self._item = self._item, None
            return item
