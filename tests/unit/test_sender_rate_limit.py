"""The per-number rate limit and the retry timing, on a fake clock: nothing here really waits."""

from __future__ import annotations

import random
from bisect import bisect_left

import pytest

from support.clock import FakeTime
from wacloud.sender.rate_limit import SlidingWindowRateLimiter
from wacloud.sender.retry import Deadline, RetryPolicy


def busiest_second(times: list[float]) -> int:
    """The most events in any window [t, t + 1): checking windows that start at an event suffices."""
    ordered = sorted(times)
    return max(bisect_left(ordered, start + 1.0) - index for index, start in enumerate(ordered))


def test_never_more_than_the_limit_in_any_second_yet_the_limit_is_reached() -> None:
    clock = FakeTime()
    limiter = SlidingWindowRateLimiter(80, clock=clock, sleep=clock.sleep)
    start = clock.now
    times = []
    for _ in range(500):
        limiter.acquire()
        times.append(clock.now)
    assert busiest_second(times) == 80
    # 500 sends at 80/s: six full seconds of 80, the last 20 in the seventh.
    assert times[-1] - start == pytest.approx(6.0)
    assert 500 / 80 - 1 <= times[-1] - start <= 500 / 80


def test_sends_spread_over_time_are_never_delayed() -> None:
    clock = FakeTime()
    limiter = SlidingWindowRateLimiter(80, clock=clock, sleep=clock.sleep)
    for _ in range(300):
        assert limiter.acquire() == 0.0
        clock.now += 1 / 50  # 50/s: under the limit
    assert clock.sleeps == []


@pytest.mark.parametrize("gap", [0.0, 0.003, 0.011, 0.05])
def test_irregular_work_never_exceeds_the_limit(gap: float) -> None:
    clock = FakeTime()
    limiter = SlidingWindowRateLimiter(20, clock=clock, sleep=clock.sleep)
    rng = random.Random(3)
    times = []
    for _ in range(400):
        limiter.acquire()
        times.append(clock.now)
        clock.now += rng.uniform(0, gap)  # the send itself takes some time
    assert busiest_second(times) <= 20


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindowRateLimiter(0)


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
