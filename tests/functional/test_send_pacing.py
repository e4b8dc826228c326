"""The phone number's send line in the table: every instance's sends spaced by the number's pace.

Each test runs against the emulated DynamoDB (moto) and against the benchmarks' stand-in, which
keeps the send lines itself: the sender's rate benchmark holds only if both answer alike.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

from bench.standin import stand_in
from support.clock import FakeTime
from wacloud.table.errors import TableUnavailableError
from wacloud.table.pacing import NotBefore, PairPacer, SharedPacer
from walocal.provision import LocalStack
from walocal.simulator.limits import TokenBucketLimit
from walocal.simulator.state import busiest_second

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

NUMBER = "106540352242922"


@pytest.fixture(params=["moto", "bench stand-in"])
def table(request: pytest.FixtureRequest) -> Iterator[Table]:
    if request.param == "moto":
        stack: LocalStack = request.getfixturevalue("stack")
        yield boto3.resource("dynamodb").Table(stack.table_names["MessagesTable"])
        return
    with stand_in() as endpoint:
        yield boto3.resource(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).Table("whatsapp-cloud-MessagesTable")


def pacers(table: Table, count: int, rate: float, clock: FakeTime) -> list[SharedPacer]:
    """``count`` sender instances of one number, on one clock."""
    return [SharedPacer(table, NUMBER, rate, clock=clock, sleep=clock.sleep) for _ in range(count)]


def test_instances_together_never_exceed_the_pace_in_any_second_yet_reach_it(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    instances = pacers(table, 4, 80, clock)
    start = clock.now
    times = []
    for n in range(400):
        instances[n % 4].acquire()
        times.append(clock.now)
    assert busiest_second(times) == 80
    # Spaced by 1/80 s whichever instance asks: the 400th goes 399/80 s after the first.
    assert times[-1] - start == pytest.approx(399 / 80)


def test_sends_slower_than_the_pace_never_wait(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    [pacer] = pacers(table, 1, 80, clock)
    for _ in range(100):
        assert pacer.acquire() == 0.0
        clock.now += 1 / 50
    assert clock.sleeps == []


def test_a_line_beyond_the_horizon_waits_before_reserving(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    pacer = SharedPacer(table, NUMBER, 10, horizon_seconds=1.0, clock=clock, sleep=clock.sleep)
    # Eleven reservations without waiting for them fill the line up to the horizon (1 s at 10/s).
    slots = [pacer.reserve() for _ in range(11)]
    assert clock.sleeps == []
    assert slots == pytest.approx([clock.now + n / 10 for n in range(11)])
    # The next one waits until the line is back within the horizon, then takes its place.
    assert pacer.reserve() == pytest.approx(slots[-1] + 0.1)
    assert len(clock.sleeps) == 1
    assert 0.1 <= clock.sleeps[0] <= 0.16


def test_numbers_have_lines_of_their_own(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    first = SharedPacer(table, NUMBER, 1, clock=clock, sleep=clock.sleep)
    other = SharedPacer(table, "106540352242999", 1, clock=clock, sleep=clock.sleep)
    assert first.reserve() == other.reserve() == clock.now


def test_concurrent_reservations_are_each_a_distinct_slot_of_one_line(table: Table) -> None:
    # Real threads and the real clock: every reservation is one step of one line, none lost or
    # shared, whichever instance and thread asks.
    # At 5/s the line outgrows the asking, so it never empties; a long horizon lets it grow.
    instances = [SharedPacer(table, NUMBER, 5, horizon_seconds=60) for _ in range(3)]
    barrier = threading.Barrier(12)

    def reserve(n: int) -> list[float]:
        barrier.wait()
        return [instances[n % 3].reserve() for _ in range(5)]

    with ThreadPoolExecutor(max_workers=12) as pool:
        slots = sorted(slot for batch in pool.map(reserve, range(12)) for slot in batch)
    assert len(slots) == 60
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert gaps == pytest.approx([1 / 5] * 59, abs=1e-6)


def test_a_rate_must_be_positive(table: Table) -> None:
    with pytest.raises(ValueError, match="positive"):
        SharedPacer(table, NUMBER, 0)


def test_an_unreachable_table_is_a_retryable_error(aws_credentials: None) -> None:
    unreachable = boto3.resource(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",  # nothing listens on the discard port
        config=Config(connect_timeout=1, retries={"total_max_attempts": 1}),
    ).Table("whatsapp-cloud-MessagesTable")
    with pytest.raises(TableUnavailableError) as raised:
        SharedPacer(unreachable, NUMBER, 80).acquire()
    assert raised.value.retryable


# ------------------------------------------------------------------ a contact's line (pair limit)
def test_a_contact_gets_a_burst_at_once_then_one_message_per_interval(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    pairs = PairPacer(table, NUMBER, clock=clock)
    start = clock.now
    turns = [pairs.reserve("16505551234", latest=start + 3600) for _ in range(50)]
    assert turns[:45] == [start] * 45
    # Then one per 6.25 s: Meta's 6 s and a margin for the way to Meta.
    assert turns[45:] == pytest.approx([start + 6.25 * n for n in range(1, 6)])
    # Meta's own bucket (the simulator's) admits every one of them at its turn.
    meta = TokenBucketLimit(45, 6.0)
    for turn in turns:
        assert isinstance(turn, float)
        assert meta.allows("16505551234", turn)
        meta.record("16505551234", turn)


def test_a_turn_after_the_latest_acceptable_reserves_nothing(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    pairs = PairPacer(table, NUMBER, interval_seconds=6.0, burst=2, clock=clock)
    start = clock.now
    assert pairs.reserve("16505551234", latest=start) == start
    assert pairs.reserve("16505551234", latest=start) == start
    # The third would go at +6 s: too late for a caller who must send by +5 s.
    assert pairs.reserve("16505551234", latest=start + 5) == NotBefore(start + 6)
    assert pairs.reserve("16505551234", latest=start + 5) == NotBefore(start + 6)  # still: nothing taken
    assert pairs.reserve("16505551234", latest=start + 6) == pytest.approx(start + 6)


def test_the_burst_refills_while_the_contact_is_left_alone(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    pairs = PairPacer(table, NUMBER, interval_seconds=6.0, burst=3, clock=clock)
    for _ in range(3):
        assert pairs.reserve("16505551234", latest=clock.now) == clock.now
    clock.now += 60  # long enough for the whole burst to come back
    assert [pairs.reserve("16505551234", latest=clock.now) for _ in range(3)] == [clock.now] * 3


def test_each_contact_has_a_line_of_its_own(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    pairs = PairPacer(table, NUMBER, interval_seconds=6.0, burst=1, clock=clock)
    assert pairs.reserve("16505551234", latest=clock.now) == clock.now
    assert pairs.reserve("16505559999", latest=clock.now) == clock.now
    assert isinstance(pairs.reserve("16505551234", latest=clock.now), NotBefore)


def test_a_contact_left_alone_costs_one_update_per_message(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    pairs = PairPacer(table, NUMBER, clock=clock)
    updates: list[str] = []
    table.meta.client.meta.events.register(
        "before-call.dynamodb.UpdateItem", lambda **_: updates.append("UpdateItem")
    )
    assert pairs.reserve("16505550777", latest=clock.now) == clock.now  # a contact never written to
    clock.now += 60
    assert pairs.reserve("16505550777", latest=clock.now) == clock.now  # their line emptied since
    assert len(updates) == 2
