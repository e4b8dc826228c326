"""When to try a send again: exponential backoff with full jitter, bounded by the invocation's deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class LambdaContextLike(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """The moment work must stop so the invocation can still answer (and write its records) in time.

    Lambda stops a function at its timeout without warning; a request cut off mid-flight leaves
    its idempotency claim pending and its outcome unknown, so nothing is started that could not
    finish before this point.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    @classmethod
    def from_context(
        cls,
        context: LambdaContextLike,
        reserve_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """The context's remaining time less ``reserve_seconds`` kept for answering and bookkeeping."""
        return cls(context.get_remaining_time_in_millis() / 1000 - reserve_seconds, clock)

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def allows(self, seconds: float) -> bool:
        """Whether something taking up to ``seconds`` still ends before the deadline."""
        return self._end - self._clock() >= seconds


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: wait a random time in [0, min(cap, base * 2**attempt)].

    Full jitter spreads the retries of concurrent senders, which all hit a throughput limit
    (130429) at the same moment, instead of sending them back in lockstep.
    """

    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    max_attempts: int = 6
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2**retry)
        return self.rng.uniform(0.0, ceiling)
