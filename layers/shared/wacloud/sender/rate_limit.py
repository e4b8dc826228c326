"""Meta's throughput limit per business phone number, kept by each sender process.

Meta counts messages per phone number: 80 per second by default (error 130429 above it). A
sliding window of the last ``limit`` send times lets a send through only when fewer than
``limit`` were sent in the second before it, so no one-second window ``[t, t + 1)`` ever holds
more than ``limit`` sends, and a process with work sends exactly ``limit`` per second.

The limiter is per process. With N sender instances running at once, Meta sees up to
N x ``limit`` per second, so the deployment must keep N x limit within the number's limit (the
outbound queue's ``MaximumConcurrency`` and ``SEND_RATE_PER_SECOND`` in template.yaml).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowRateLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    def acquire(self) -> float:
        """Wait until one more send fits in the window, and count it; the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if len(self._sent) < self._limit or self._sent[0] <= now - self._window:
                    self._sent.append(now)  # maxlen drops the oldest, which left the window
                    return waited
                wait = self._sent[0] + self._window - now
            self._sleep(wait)
            waited += wait
