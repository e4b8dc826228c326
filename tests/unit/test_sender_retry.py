"""The retry timing, on a fake clock: nothing here really waits."""

from __future__ import annotations

import random

import pytest

from support.clock import FakeTime
from wacloud.sender.retry import Deadline, RetryPolicy


class Highest(random.Random):
    """Always the top of the range: the backoff's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=8.0, rng=Highest())
    assert [policy.backoff(retry) for retry in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_is_fully_jittered() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=8.0, rng=random.Random(11))
    delays = [policy.backoff(4) for _ in range(2000)]
    assert all(0.0 <= delay <= 8.0 for delay in delays)
    # Spread over the whole range, not clustered at the ceiling.
    assert min(delays) < 0.5
    assert max(delays) > 7.5


def test_deadline_counts_down_on_its_clock() -> None:
    clock = FakeTime()
    deadline = Deadline(30, clock)
    assert deadline.allows(30)
    clock.sleep(20)
    assert deadline.remaining() == pytest.approx(10)
    assert deadline.allows(10)
    assert not deadline.allows(10.5)
    clock.sleep(15)
    assert deadline.remaining() == 0.0


def test_deadline_from_the_lambda_context_keeps_a_reserve() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 60_000

    clock = FakeTime()
    deadline = Deadline.from_context(Context(), reserve_seconds=2.0, clock=clock)
    assert deadline.remaining() == pytest.approx(58.0)
