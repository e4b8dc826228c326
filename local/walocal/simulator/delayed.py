"""Runs callbacks later on a small worker pool; ``stop()`` drops what is pending and joins every thread."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class DelayedCalls:
    def __init__(self, workers: int = 4, name: str = "graph-simulator") -> None:
        self._workers = workers
        self._name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        with self._cond:
            if self._thread is not None or self._stopped:
                raise RuntimeError("delayed calls can only be started once")
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=f"{self._name}-webhook")
            self._thread = threading.Thread(target=self._run, name=f"{self._name}-timer", daemon=True)
            self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> bool:
        """Queue ``callback``; False once stopped (late work is dropped, not run)."""
        with self._cond:
            if self._stopped or self._thread is None:
                return False
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), next(self._order), callback))
            self._cond.notify()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._heap)
                pool = self._pool
            if pool is None:
                return
            try:
                pool.submit(self._guarded, callback)
            except RuntimeError:
                # The pool refuses work once stop() has shut it down.
                return

    @staticmethod
    def _guarded(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            log.exception("simulator background task failed")

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
            thread, pool = self._thread, self._pool
        if thread is not None:
            thread.join()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
