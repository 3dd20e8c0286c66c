"""Overlap generating the next frames with presenting the current one.

Measured on a 2-core CPU (DCGAN 128 px): a single worker using torch's two intra-op
threads *lost* throughput, because torch's threads spin at their barriers and fight the
main thread's pygame scale for the cores. What works is frame parallelism without that
fight: each worker runs torch single-threaded, one worker per core, each generating a
different frame; the main thread presents frames strictly in order. Two single-threaded
workers generate ~1.4x the frames of one two-threaded generator, which leaves room for the
present. The loop keeps every worker busy while it presents, so a frame is shown `workers`
frames after it was submitted: the price is latency, so the loop only pipelines when it is
uncapped; with an fps cap it renders sequentially, late-latched.

On CUDA one worker suffices: the GPU runs while the main thread presents.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class RenderResult:
    index: int | None  # host buffer index, None if rendering failed
    gen_ms: float
    error: BaseException | None = None


def default_workers(device: torch.device) -> int:
    return 1 if device.type != "cpu" else max(1, min(2, os.cpu_count() or 1))


class GeneratorPool:
    """`workers` threads calling `render(job)`; results come back in submit order.

    Each job carries everything its frame needs (renderer.RenderJob), so a worker shares no
    mutable state with the loop. Torch's thread count is the composition root's business
    (app.torch_threads: one per worker on a CPU).
    """

    def __init__(self, render: Callable[[Any], int], workers: int) -> None:
        self._render = render
        self._requests: queue.Queue[tuple[int, Any] | None] = queue.Queue()
        self._results: dict[int, RenderResult] = {}
        self._cond = threading.Condition()
        self._order: deque[int] = deque()
        self._seq = 0
        self.workers = workers
        self._threads = [
            threading.Thread(target=self._run, name=f"generator-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    @property
    def in_flight(self) -> int:
        return len(self._order)

    def submit(self, job: Any) -> None:
        seq = self._seq
        self._seq += 1
        self._order.append(seq)
        self._requests.put((seq, job))

    def next_result(self) -> RenderResult:
        """The oldest submitted frame's result, waiting for it if needed."""
        seq = self._order.popleft()
        with self._cond:
            self._cond.wait_for(lambda: seq in self._results)
            return self._results.pop(seq)

    def _run(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            seq, job = item
            start = time.perf_counter()
            try:
                result = RenderResult(self._render(job), 0.0)
            except Exception as exc:  # shown on screen by the loop, never a crash
                result = RenderResult(None, 0.0, exc)
            result.gen_ms = (time.perf_counter() - start) * 1000
            with self._cond:
                self._results[seq] = result
                self._cond.notify_all()

    def close(self) -> None:
        for _ in self._threads:
            self._requests.put(None)
        for t in self._threads:
            t.join(timeout=5)
