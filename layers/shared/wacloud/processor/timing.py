"""The invocation's time, shared by the records of a batch.

Lambda stops a function at its timeout, and a batch whose invocation is stopped fails as a whole:
no partial report, every record redelivered, including those already stored. So the processor
keeps a margin before the end to answer in, starts a record only while one as slow as the slowest
so far would still finish, and gives each record a deadline after which it stops and is reported
failed (and retried alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wacloud.core.errors import WaCloudError

# Time kept to answer Lambda after the last record: building the partial report, noting failures.
ANSWER_MARGIN_SECONDS = 2.0
# No record starts with less than this left: even a one-update POST needs a few round trips.
MIN_RECORD_SECONDS = 1.0


class OutOfTimeError(WaCloudError):
    """A record was stopped, or not started, because the invocation would have run out of time."""

    retryable = True


@dataclass(frozen=True)
class Deadline:
    """A :func:`time.monotonic` time by which work must be done."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return self.at - self.clock()

    def check(self, doing: str) -> None:
        if self.remaining() <= 0:
            raise OutOfTimeError(f"out of time before {doing}")


class BatchTimer:
    """Hands out records' deadlines for one invocation, from Lambda's remaining time."""

    def __init__(
        self,
        remaining_ms: Callable[[], int],
        *,
        answer_margin: float = ANSWER_MARGIN_SECONDS,
        min_record: float = MIN_RECORD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.answer_margin = answer_margin
        self._end = clock() + remaining_ms() / 1000 - answer_margin
        self._min_record = min_record
        self._slowest = 0.0
        self._started: float | None = None

    def start_record(self) -> Deadline:
        """The deadline of the next record; :class:`OutOfTimeError` when it should not start."""
        now = self._clock()
        needed = max(self._min_record, self._slowest)
        if self._end - now < needed:
            raise OutOfTimeError(
                f"not started: {max(0.0, self._end - now):.1f} s left of the invocation, "
                f"a record may need {needed:.1f} s"
            )
        self._started = now
        return Deadline(self._end, self._clock)

    def record_done(self) -> None:
        if self._started is not None:
            self._slowest = max(self._slowest, self._clock() - self._started)
            self._started = None

    def time_left(self) -> float:
        """Seconds until the answer margin begins."""
        return self._end - self._clock()
