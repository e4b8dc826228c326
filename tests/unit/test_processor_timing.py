"""The processor's use of Lambda's time: records start only while they can finish, writes stop
at their deadline, and the first failure of side-by-side writes is the one reported."""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest

from wacloud.processor.concurrency import Task, WritePool
from wacloud.processor.timing import BatchTimer, Deadline, OutOfTimeError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_record_starts_only_while_one_as_slow_as_the_slowest_would_finish() -> None:
    clock = Clock()
    # 30 s of Lambda's time, 2 s kept to answer: records may run until 28 s.
    timer = BatchTimer(lambda: 30_000, answer_margin=2.0, min_record=1.0, clock=clock)
    deadline = timer.start_record()
    assert deadline.at == 28.0
    clock.now = 9.0  # the first record took 9 s
    timer.record_done()
    timer.start_record()
    clock.now = 18.5  # the second took 9.5 s
    timer.record_done()
    clock.now = 18.6
    with pytest.raises(
        OutOfTimeError, match=r"not started: 9\.4 s left of the invocation, a record may need 9\.5 s"
    ):
        timer.start_record()


def test_with_less_than_the_minimum_left_nothing_starts() -> None:
    clock = Clock()
    timer = BatchTimer(lambda: 2_500, answer_margin=2.0, min_record=1.0, clock=clock)
    with pytest.raises(OutOfTimeError, match="not started"):
        timer.start_record()


def test_side_by_side_writes_all_run() -> None:
    done: list[int] = []
    lock = threading.Lock()

    def write(index: int) -> None:
        time.sleep(0.01)
        with lock:
            done.append(index)

    WritePool(8).run([partial(write, index) for index in range(40)], Deadline.after(10), "writing")
    assert sorted(done) == list(range(40))


def test_a_failure_is_raised_at_once_and_writes_not_started_are_dropped() -> None:
    ran: list[int] = []

    def fail() -> None:
        raise ValueError("throttled")

    def slow(index: int) -> None:
        time.sleep(0.05)
        ran.append(index)

    tasks: list[Task] = [fail, *(partial(slow, index) for index in range(20))]
    with pytest.raises(ValueError, match="throttled"):
        WritePool(2).run(tasks, None, "writing")
    time.sleep(0.2)
    assert len(ran) < 20


def test_writes_stop_at_the_deadline_and_the_rest_never_start() -> None:
    started: list[int] = []
    release = threading.Event()

    def slow(index: int) -> None:
        started.append(index)
        release.wait(2)

    pool = WritePool(2)
    begun = time.monotonic()
    with pytest.raises(OutOfTimeError, match="out of time during storing: 10 of 10 writes unfinished"):
        pool.run([partial(slow, index) for index in range(10)], Deadline.after(0.2), "storing")
    assert time.monotonic() - begun < 1
    release.set()
    time.sleep(0.1)
    assert len(started) <= 4  # those running at the deadline, and none queued behind them
