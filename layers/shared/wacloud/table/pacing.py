"""Meta's limits on sending, kept in the table so that every sender instance shares them.

**The number's line.**
Meta counts messages per phone number (80 per second by default; error 130429 above it), whichever
Lambda instance sends them, and a deployment runs many instances at once: the queue's, the direct
invocations', EventBridge's. So the limit is kept in one table item per number, as the next time at
which a send may go (``next_us``, microseconds). A send reserves its slot with one conditional
update, which the threads of an instance that ask at the same moment share (``n`` of them):

- while sends are queued (``next_us`` is ahead of now but within the horizon), the update moves
  ``next_us`` on by ``n`` intervals and returns the old value: the first of the ``n`` times;
- when the line is empty (``next_us`` passed, or no item yet), the update sets it to now plus
  ``n`` intervals, and the first send goes now;
- when the line already reaches beyond the horizon, the update is refused, and the sender waits
  for the line to shorten before asking again, rather than reserve a time it may not live to use.

Sends are therefore spaced by ``1 / rate`` seconds across all instances: any one second holds at
most ``rate`` of them, plus the variation of the delay between a reservation and the request's
arrival at Meta, which is why the rate is set a little under Meta's limit; a send whose instance
wakes too late for its slot takes a later one rather than bunch with the sends after it. A
reserved slot that goes unused (the send failed before its request, or the instance stopped) is
lost capacity, never an extra send. A reservation is one write unit, for one send or several.

**A contact's line.** Meta also limits messages from one number to one user (about one per 6 s,
bursts of up to 45 borrowing from later; 131056 above it). The same kind of line per number and
contact, with a burst allowance: a send may go as soon as the line is no more than
``(burst - 1)`` intervals ahead of now (a token bucket of ``burst`` tokens, refilled one per
interval). A send whose turn would come after the caller can wait reserves nothing and is told
when to come back, so a queue redelivers it instead of a call spent on 131056.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wacloud.core.metrics import metrics
from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed, TableUnavailableError
from wacloud.table.keys import PACE_SK, pace_pk, pair_pace_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_MICROS = 1_000_000
# An idle line's item vanishes after a day (TTL); the next send creates it again.
_TTL_SECONDS = 86_400
# A reservation on the number's line is at most this far ahead: longer lines wait their turn to ask.
DEFAULT_HORIZON_SECONDS = 5.0
# Meta's pair limit (docs/sender.md): one message per 6 s to one user, bursts of up to 45. A quarter
# second more leaves room for the variation between a turn and the request's arrival at Meta.
PAIR_INTERVAL_SECONDS = 6.25
PAIR_BURST = 45
# How many turns late a request may leave: the rate is set that many a second below Meta's limit
# (78 of 80), so late requests bunched with on-time ones still keep within it.
LATE_TURNS = 2
# But never less than the reservation's own round trip may take: a turn on an empty line is the
# time it was asked for.
MIN_LATE_SECONDS = 0.025
# Turns missed in a row before a send gives up (retryable): the instance has no CPU to keep any.
_MAX_LATE_TURNS = 10
# Two updates decide every reservation; more attempts only happen when many instances find the line
# empty at the same moment.
_MAX_ATTEMPTS = 20


class PaceUnavailableError(TableUnavailableError):
    """No send time could be reserved (the table failed, or the line stayed full): nothing was sent."""


@dataclass(frozen=True)
class _Full:
    """The line reaches beyond what the caller accepts: its end (microseconds)."""

    next_us: int


class _Lines:
    """Reservations on lines of one kind: ``interval`` apart, ``burst`` of them at once."""

    def __init__(self, table: Table, interval_seconds: float, burst: int, clock: Callable[[], float]) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"the interval must be positive, got {interval_seconds}")
        if burst < 1:
            raise ValueError(f"the burst must be at least 1, got {burst}")
        self._table = TableClient(table)
        self.interval_us = max(1, round(interval_seconds * _MICROS))
        # How far ahead of now the line may be for a send to go at once (a token bucket's depth).
        self.tolerance_us = (burst - 1) * self.interval_us
        self._clock = clock

    def now_us(self) -> int:
        now = self._clock()
        micros = int(now * _MICROS)
        # Never after the clock: the product may round up to the next microsecond (a clock near
        # 1.8e9 s has quarter-microsecond steps), and a turn given at "now" would then be waited for.
        return micros - 1 if micros / _MICROS > now else micros

    def reserve(
        self, key: Mapping[str, str], now: int, latest: int, *, idle_first: bool = False, count: int = 1
    ) -> int | _Full | None:
        """The first of ``count`` consecutive send times reserved (one interval apart), or the
        line's end when the first would be after ``latest`` (nothing reserved), or None when
        another reservation changed the line under us.

        ``idle_first``: try starting an empty line before extending a busy one, for lines that are
        mostly empty (a contact's): one update instead of two in the common case.
        """
        if idle_first and self._start(key, now, count):
            return now
        try:
            answer = self._table.update(
                key,
                UpdateExpression="SET next_us = next_us + :interval, expires_at = :expires",
                ConditionExpression="next_us BETWEEN :now AND :latest",
                ExpressionAttributeValues={
                    ":interval": self.interval_us * count,
                    ":now": now,
                    ":latest": latest + self.tolerance_us,
                    ":expires": now // _MICROS + _TTL_SECONDS,
                },
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return max(now, int(answer["Attributes"]["next_us"]) - self.tolerance_us)
        except ConditionFailed as failed:
            stored = failed.stored.get("next_us") if failed.stored else None
        if stored is not None and int(stored) > now:
            return _Full(int(stored))
        if idle_first:
            return None  # it emptied between the two updates: ask again
        return now if self._start(key, now, count) else None

    def _start(self, key: Mapping[str, str], now: int, count: int) -> bool:
        """Start an empty line at now with ``count`` sends, unless another send just did (or it is
        busy)."""
        try:
            self._table.update(
                key,
                UpdateExpression="SET next_us = :next, expires_at = :expires",
                ConditionExpression="attribute_not_exists(next_us) OR next_us < :now",
                ExpressionAttributeValues={
                    ":next": now + self.interval_us * count,
                    ":now": now,
                    ":expires": now // _MICROS + _TTL_SECONDS,
                },
            )
        except ConditionFailed:
            return False
        return True


class SharedPacer:
    """The number's line: every request's turn, ``1 / rate_per_second`` apart."""

    def __init__(
        self,
        table: Table,
        phone_number_id: str,
        rate_per_second: float,
        *,
        horizon_seconds: float = DEFAULT_HORIZON_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        self._lines = _Lines(table, 1 / rate_per_second, 1, clock)
        self._key = {"pk": pace_pk(phone_number_id), "sk": PACE_SK}
        self._horizon_us = round(horizon_seconds * _MICROS)
        # A request that leaves this late may share a second with LATE_TURNS more than the rate
        # (more at high rates, where the floor covers the table's own round trip).
        self.late_seconds = max(LATE_TURNS * self._lines.interval_us / _MICROS, MIN_LATE_SECONDS)
        self._clock = clock
        self._sleep = sleep
        # Turns this instance reserved for threads that have not taken them yet (microseconds), and
        # when the table's answer gave them (epoch seconds).
        self._turns: deque[tuple[int, float]] = deque()
        self._turns_ready = threading.Condition()
        self._asking = 0  # threads waiting for a turn
        self._reserving = False  # a thread is reserving turns for those waiting
        self._busy = False  # the line was queued at the last reservation

    @property
    def rate_per_second(self) -> float:
        return _MICROS / self._lines.interval_us

    def acquire(self) -> float:
        """Reserve the next send time of the number and wait for it; the seconds waited for it.

        A turn that is past by more than :attr:`late_seconds` when the wait for it ends (the
        instance had no CPU for that long) is given up for the next free one: sent now, it would go
        out together with the turns reserved after it, and one second would hold more requests
        than the rate. A missed turn is lost capacity, never an extra request. A turn already past
        when the table's answer came (an empty line starts at the time it was asked) counts from
        that answer: the round trip is the table's, not the instance's.

        Raises :class:`TableUnavailableError` (retryable) when the table cannot be asked, or when
        every turn this instance got came too late.
        """
        waited = 0.0
        for _ in range(_MAX_LATE_TURNS):
            turn, answered = self._take_turn()
            pause = turn - self._clock()
            if pause > 0:
                self._sleep(pause)
                waited += pause
            if self._clock() - max(turn, answered) <= self.late_seconds:
                return waited
            # A sign that the instances are short of CPU (MemorySize): they lose capacity.
            metrics.count("SendTurnsMissed")
        raise PaceUnavailableError(
            f"no send turn could be kept: {_MAX_LATE_TURNS} in a row were past by more than "
            f"{self.late_seconds * 1000:.0f} ms when this instance could use them (it is short of CPU)"
        )

    def reserve(self) -> float:
        """The next send time of the number (epoch seconds), now taken by the caller.

        The threads of an instance that ask while a reservation is on its way to the table are
        served together by the next one, which takes a turn for each of them in one update: a
        batch's records reach their turns at about the same time, and each update is a round trip
        and a write unit. Waits only while the line reaches beyond the horizon.
        """
        return self._take_turn()[0]

    def _take_turn(self) -> tuple[float, float]:
        """The next send time (epoch seconds) taken, and when the table's answer gave it."""
        with self._turns_ready:
            self._asking += 1
            try:
                while not self._turns:
                    if self._reserving:
                        self._turns_ready.wait()
                        continue
                    count, self._reserving = self._asking, True
                    self._turns_ready.release()
                    try:
                        first = self._reserve_turns(count)
                        answered = self._clock()
                    finally:
                        self._turns_ready.acquire()
                        self._reserving = False
                        self._turns_ready.notify_all()
                    self._turns.extend((first + n * self._lines.interval_us, answered) for n in range(count))
                turn, answered = self._turns.popleft()
                return turn / _MICROS, answered
            finally:
                self._asking -= 1

    def _reserve_turns(self, count: int) -> int:
        """``count`` consecutive turns on the line, in one update: the first (microseconds)."""
        for _ in range(_MAX_ATTEMPTS):
            now = self._lines.now_us()
            # The update that decides the usual case first: an idle number's line is empty at each
            # send, a busy one's never is. One update then, where the other order would take two.
            slot = self._lines.reserve(
                self._key, now, now + self._horizon_us, idle_first=not self._busy, count=count
            )
            if slot is None:
                continue  # someone else moved the line between our two updates: ask again at once
            self._busy = slot != now
            if isinstance(slot, _Full):
                # Wait for the line to shorten to the horizon, spread so that waiters do not all
                # ask again in the same instant.
                self._sleep((slot.next_us - now - self._horizon_us) / _MICROS + random.uniform(0, 0.05))  # noqa: S311 (jitter)
                continue
            return slot
        raise PaceUnavailableError("no send time could be reserved: the send line stayed full")


@dataclass(frozen=True)
class NotBefore:
    """A contact's line is full until ``seconds`` (epoch): nothing was reserved."""

    seconds: float


class PairPacer:
    """Each contact's line on one number: Meta's pair limit, shared by every instance."""

    def __init__(
        self,
        table: Table,
        phone_number_id: str,
        *,
        interval_seconds: float = PAIR_INTERVAL_SECONDS,
        burst: int = PAIR_BURST,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lines = _Lines(table, interval_seconds, burst, clock)
        self._phone_number_id = phone_number_id

    def reserve(self, wa_id: str, latest: float) -> float | NotBefore:
        """The time (epoch seconds) a message to ``wa_id`` may go, now taken by the caller; or,
        when that would be after ``latest``, the time from which to ask again.

        Raises :class:`TableUnavailableError` (retryable) when the table cannot be asked.
        """
        key = {"pk": pair_pace_pk(self._phone_number_id, wa_id), "sk": PACE_SK}
        for _ in range(_MAX_ATTEMPTS):
            now = self._lines.now_us()
            slot = self._lines.reserve(key, now, max(now, int(latest * _MICROS)), idle_first=True)
            if slot is None:
                continue
            if isinstance(slot, _Full):
                return NotBefore((slot.next_us - self._lines.tolerance_us) / _MICROS)
            return slot / _MICROS
        raise PaceUnavailableError(f"no send time could be reserved for {wa_id}: the line kept changing")
