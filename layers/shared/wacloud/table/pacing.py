"""Meta's limits on sending, kept in the table so that every sender instance shares them.

**The number's line.**
Meta counts messages per phone number (80 per second by default; error 130429 above it), whichever
Lambda instance sends them, and a deployment runs many instances at once: the queue's, the direct
invocations', EventBridge's. So the limit is kept in one table item per number, as the next time at
which a send may go (``next_us``, microseconds). Each send reserves one slot with one conditional
update:

- while sends are queued (``next_us`` is ahead of now but within the horizon), the update moves
  ``next_us`` on by one interval and returns the old value: that is this send's time;
- when the line is empty (``next_us`` passed, or no item yet), the update sets it to now plus one
  interval, and the send goes now;
- when the line already reaches beyond the horizon, the update is refused, and the sender waits
  for the line to shorten before asking again, rather than reserve a time it may not live to use.

Sends are therefore spaced by ``1 / rate`` seconds across all instances: any one second holds at
most ``rate`` of them, plus the variation of the delay between a reservation and the request's
arrival at Meta, which is why the rate is set a little under Meta's limit. A reserved slot that
goes unused (the send failed before its request, or the instance stopped) is lost capacity, never
an extra send. One reservation is one write unit per message sent.

**A contact's line.** Meta also limits messages from one number to one user (about one per 6 s,
bursts of up to 45 borrowing from later; 131056 above it). The same kind of line per number and
contact, with a burst allowance: a send may go as soon as the line is no more than
``(burst - 1)`` intervals ahead of now (a token bucket of ``burst`` tokens, refilled one per
interval). A send whose turn would come after the caller can wait reserves nothing and is told
when to come back, so a queue redelivers it instead of a call spent on 131056.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
        return int(self._clock() * _MICROS)

    def reserve(
        self, key: Mapping[str, str], now: int, latest: int, *, idle_first: bool = False
    ) -> int | _Full | None:
        """The reserved send time, or the line's end when the send would go after ``latest``
        (nothing reserved), or None when another reservation changed the line under us.

        ``idle_first``: try starting an empty line before extending a busy one, for lines that are
        mostly empty (a contact's): one update instead of two in the common case.
        """
        if idle_first and self._start(key, now):
            return now
        try:
            answer = self._table.update(
                key,
                UpdateExpression="SET next_us = next_us + :interval, expires_at = :expires",
                ConditionExpression="next_us BETWEEN :now AND :latest",
                ExpressionAttributeValues={
                    ":interval": self.interval_us,
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
        return now if self._start(key, now) else None

    def _start(self, key: Mapping[str, str], now: int) -> bool:
        """Start an empty line at now, unless another send just did (or it is busy)."""
        try:
            self._table.update(
                key,
                UpdateExpression="SET next_us = :next, expires_at = :expires",
                ConditionExpression="attribute_not_exists(next_us) OR next_us < :now",
                ExpressionAttributeValues={
                    ":next": now + self.interval_us,
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
        self._clock = clock
        self._sleep = sleep

    @property
    def rate_per_second(self) -> float:
        return _MICROS / self._lines.interval_us

    def acquire(self) -> float:
        """Reserve the next send time of the number and wait for it; the seconds waited for it.

        Raises :class:`TableUnavailableError` (retryable) when the table cannot be asked.
        """
        pause = self.reserve() - self._clock()
        if pause <= 0:
            return 0.0
        self._sleep(pause)
        return pause

    def reserve(self) -> float:
        """The next send time of the number (epoch seconds), now taken by the caller.

        Waits only while the line reaches beyond the horizon.
        """
        for _ in range(_MAX_ATTEMPTS):
            now = self._lines.now_us()
            slot = self._lines.reserve(self._key, now, now + self._horizon_us)
            if slot is None:
                continue  # someone else moved the line between our two updates: ask again at once
            if isinstance(slot, _Full):
                # Wait for the line to shorten to the horizon, spread so that waiters do not all
                # ask again in the same instant.
                self._sleep((slot.next_us - now - self._horizon_us) / _MICROS + random.uniform(0, 0.05))  # noqa: S311 (jitter)
                continue
            return slot / _MICROS
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
