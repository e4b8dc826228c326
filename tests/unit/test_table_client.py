"""How the table client writes in batches: items DynamoDB leaves unprocessed (throttled) are sent
again after growing, jittered waits, a bounded number of times, never past a deadline."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wacloud.table.client import Backoff, TableClient
from wacloud.table.errors import TableUnavailableError


class ThrottlingClient:
    """A DynamoDB client that hands back the last ``unprocessed`` items of each of its first
    ``throttled`` BatchWriteItem calls, as DynamoDB does when a partition is over its limit."""

    def __init__(self, throttled: int, unprocessed: int = 2) -> None:
        self.throttled = throttled
        self.unprocessed = unprocessed
        self.requests: list[list[dict[str, Any]]] = []

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        self.requests.append(list(requests))
        if len(self.requests) > self.throttled:
            return {"UnprocessedItems": {}}
        return {"UnprocessedItems": {"t": requests[-self.unprocessed :]}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def client(dynamodb: ThrottlingClient, clock: Clock, backoff: Backoff | None = None) -> TableClient:
    table: Any = SimpleNamespace(name="t", meta=SimpleNamespace(client=dynamodb))
    return TableClient(table, backoff=backoff, sleep=clock.sleep, clock=clock)


def items(count: int) -> list[dict[str, Any]]:
    return [{"pk": f"MSG#{index}", "sk": "MESSAGE", "n": index} for index in range(count)]


def test_unprocessed_items_are_sent_again_after_growing_jittered_waits() -> None:
    dynamodb, clock = ThrottlingClient(throttled=5), Clock()
    client(dynamodb, clock).batch_put(items(3))
    # The same two items each time, nothing else, until DynamoDB takes them.
    assert [len(request) for request in dynamodb.requests] == [3, 2, 2, 2, 2, 2]
    caps = [min(1.0, 0.05 * 2**n) for n in range(5)]
    assert all(0 <= slept <= cap for slept, cap in zip(clock.slept, caps, strict=True))


@given(st.integers(1, 12), st.floats(0, 1))
def test_each_wait_is_random_below_a_cap_that_doubles_up_to_a_bound(attempt: int, fraction: float) -> None:
    backoff = Backoff(base_seconds=0.05, cap_seconds=1.0, attempts=8)
    wait = backoff.delay(attempt, rng=lambda low, high: low + (high - low) * fraction)
    assert 0 <= wait <= min(1.0, 0.05 * 2 ** (attempt - 1))


def test_a_write_throttled_for_good_gives_up_after_the_bound_with_a_retryable_error() -> None:
    dynamodb, clock = ThrottlingClient(throttled=1_000), Clock()
    with pytest.raises(TableUnavailableError) as failed:
        client(dynamodb, clock).batch_put(items(3))
    assert str(failed.value) == "BatchWriteItem left 2 items unwritten after 8 attempts (throttled)"
    assert failed.value.retryable
    assert len(dynamodb.requests) == 8
    assert len(clock.slept) == 7
    assert sum(clock.slept) <= 0.05 + 0.1 + 0.2 + 0.4 + 0.8 + 1.0 + 1.0


def test_no_wait_starts_that_would_end_past_the_deadline() -> None:
    dynamodb, clock = ThrottlingClient(throttled=1_000), Clock()
    backoff = Backoff(base_seconds=1.0, cap_seconds=1.0, attempts=8)
    with pytest.raises(TableUnavailableError, match="no time is left to try again"):
        client(dynamodb, clock, backoff).batch_put(items(3), until=clock.now + 0.5)
    assert clock.now <= 100.5


def test_batches_hold_25_items_and_one_key_once() -> None:
    dynamodb, clock = ThrottlingClient(throttled=0), Clock()
    twice = [*items(60), {"pk": "MSG#3", "sk": "MESSAGE", "n": "last"}]
    client(dynamodb, clock).batch_put(twice)
    assert [len(request) for request in dynamodb.requests] == [25, 25, 10]
    sent = [request["PutRequest"]["Item"] for batch in dynamodb.requests for request in batch]
    assert [item["n"] for item in sent if item["pk"] == "MSG#3"] == ["last"]
