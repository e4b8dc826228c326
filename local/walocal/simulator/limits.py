"""Throughput limits: a sliding one-second window per business number, a token bucket per recipient.

Both split checking from recording so that a send rejected by one limit does not use up the
other, and so the caller can do both under one lock.
"""

from __future__ import annotations

from collections import deque


class SlidingWindowLimit:
    """At most ``limit`` events per key in any window of ``window`` seconds."""

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self._limit = limit
        self._window = window
        self._events: dict[str, deque[float]] = {}

    def allows(self, key: str, now: float) -> bool:
        events = self._events.get(key)
        if events is None:
            return True
        while events and events[0] <= now - self._window:
            events.popleft()
        return len(events) < self._limit

    def record(self, key: str, now: float) -> None:
        self._events.setdefault(key, deque(maxlen=self._limit)).append(now)

    def clear(self) -> None:
        self._events.clear()


class TokenBucketLimit:
    """``burst`` events at once per key, then one more every ``interval`` seconds."""

    # Recipients whose bucket has refilled are forgotten past this many, to bound memory.
    _PRUNE_ABOVE = 10_000

    def __init__(self, burst: int, interval: float) -> None:
        self._burst = float(burst)
        self._interval = interval
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, key: str, now: float) -> float:
        tokens, updated = self._buckets.get(key, (self._burst, now))
        return min(self._burst, tokens + max(0.0, now - updated) / self._interval)

    def allows(self, key: str, now: float) -> bool:
        return self._tokens(key, now) >= 1.0

    def record(self, key: str, now: float) -> None:
        self._buckets[key] = (self._tokens(key, now) - 1.0, now)
        if len(self._buckets) > self._PRUNE_ABOVE:
            full = [k for k in self._buckets if self._tokens(k, now) >= self._burst]
            for k in full:
                del self._buckets[k]

    def clear(self) -> None:
        self._buckets.clear()
