"""The phone number's send line in the table: every instance's sends spaced by the number's pace.

Each test runs against the emulated DynamoDB (moto) and against the benchmarks' stand-in, which
keeps the send lines itself: the sender's rate benchmark holds only if both answer alike.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

from bench.standin import stand_in
from support.clock import FakeTime
from wacloud.core.metrics import metrics
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


def test_a_turn_at_the_clocks_now_is_not_waited_for_whatever_its_microseconds_round_to(table: Table) -> None:
    # This time in microseconds rounds up to the next whole microsecond, one float step after it.
    now = 1_800_000_000.7762089
    assert int(now * 1_000_000) / 1_000_000 > now
    clock = FakeTime(now)
    [pacer] = pacers(table, 1, 80, clock)
    assert pacer.acquire() == 0.0
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


def test_threads_asking_together_share_one_reservation_of_as_many_turns(table: Table) -> None:
    pacer = SharedPacer(table, NUMBER, 5, horizon_seconds=60)
    other = SharedPacer(table, NUMBER, 5, horizon_seconds=60)
    for _ in range(5):
        other.reserve()  # the line is busy for a second: every reservation extends it
    pacer.reserve()  # and this instance has seen it busy: it extends it first
    updates: list[float] = []

    def first_answer_is_slow(**_: object) -> None:
        updates.append(time.monotonic())
        if len(updates) == 1:
            time.sleep(0.3)  # the other nine threads ask while it is on its way

    table.meta.client.meta.events.register("before-call.dynamodb.UpdateItem", first_answer_is_slow)
    barrier = threading.Barrier(10)

    def reserve(_: int) -> float:
        barrier.wait()
        return pacer.reserve()

    with ThreadPoolExecutor(max_workers=10) as pool:
        turns = sorted(pool.map(reserve, range(10)))
    # One update for the first thread, one for the nine that asked while it was on its way.
    assert len(updates) == 2
    gaps = [later - earlier for earlier, later in itertools.pairwise(turns)]
    assert gaps == pytest.approx([1 / 5] * 9, abs=1e-6)
    assert other.reserve() == pytest.approx(turns[-1] + 1 / 5)  # and the line goes on after them


def test_an_idle_line_and_a_busy_one_each_cost_one_update_per_send(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    [pacer] = pacers(table, 1, 10, clock)
    updates: list[str] = []
    table.meta.client.meta.events.register(
        "before-call.dynamodb.UpdateItem", lambda **_: updates.append("UpdateItem")
    )
    for _ in range(5):  # one send a second at 10/s: the line is empty each time
        assert pacer.reserve() == clock.now
        clock.now += 1
    assert len(updates) == 5
    updates.clear()
    burst = [pacer.reserve() for _ in range(20)]  # twenty at once: queued behind each other
    assert burst == pytest.approx([clock.now + n / 10 for n in range(20)])
    # The second found the line busy where it expected it empty (two updates), then each one.
    assert len(updates) == 21


def test_a_turn_the_instance_wakes_too_late_for_is_given_up_for_a_later_one(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    start = clock.now
    other = SharedPacer(table, NUMBER, 10, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        other.reserve()  # the line is taken until start + 0.5 s

    def starved(seconds: float) -> None:
        clock.sleep(seconds + 0.3)  # the instance gets the CPU 0.3 s after its turn

    mine = SharedPacer(table, NUMBER, 10, clock=clock, sleep=starved)
    assert mine.late_seconds == pytest.approx(0.2)  # two turns at 10/s
    metrics.lines()  # nothing else counted
    mine.acquire()
    assert '"SendTurnsMissed":1.0' in "".join(metrics.lines())
    # Its turn (start + 0.5) was 0.3 s past when it woke: sent then, it would have gone out with
    # the turns reserved after it. It took the line's next free turn instead: now.
    assert clock.now == pytest.approx(start + 0.8)
    # And the line goes on from the turn kept, not from the one given up.
    assert other.reserve() == pytest.approx(start + 0.9)


def test_a_turn_the_table_answers_late_counts_from_the_answer(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)
    [pacer] = pacers(table, 1, 10, clock)

    def slow_table(**_: object) -> None:
        clock.now += 0.3  # each update takes longer than two turns

    table.meta.client.meta.events.register("before-call.dynamodb.UpdateItem", slow_table)
    metrics.lines()
    # The line was empty: its turn is the time it was asked, 0.3 s before the answer. Nothing was
    # reserved after it meanwhile that it could go out with, so it is kept.
    assert pacer.acquire() == 0.0
    assert metrics.lines() == []


def test_an_instance_that_misses_every_turn_sends_nothing(table: Table) -> None:
    clock = FakeTime(1_800_000_000.0)

    def starved() -> float:
        clock.now += 1.0  # every reading of the clock comes a second after the last one
        return clock.now

    pacer = SharedPacer(table, NUMBER, 10, clock=starved, sleep=clock.sleep)
    metrics.lines()
    with pytest.raises(TableUnavailableError, match="no send turn could be kept") as raised:
        pacer.acquire()
    assert raised.value.retryable
    assert '"SendTurnsMissed":10.0' in "".join(metrics.lines())


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
