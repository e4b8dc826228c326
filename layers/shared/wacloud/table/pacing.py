"""Meta's throughput limit per business phone number, shared by every sender instance.

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
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed, TableUnavailableError
from wacloud.table.keys import PACE_SK, pace_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_MICROS = 1_000_000
# An idle number's item vanishes after a day (TTL); the next send creates it again.
_TTL_SECONDS = 86_400
# A reservation is at most this far ahead: longer lines wait their turn to ask.
DEFAULT_HORIZON_SECONDS = 5.0
# Two updates decide every reservation; more attempts only happen when many instances find the line
# empty at the same moment.
_MAX_ATTEMPTS = 20


class PaceUnavailableError(TableUnavailableError):
    """No send time could be reserved (the table failed, or the line stayed full): nothing was sent."""


class SharedPacer:
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
        self._table = TableClient(table)
        self._key = {"pk": pace_pk(phone_number_id), "sk": PACE_SK}
        self._interval_us = max(1, round(_MICROS / rate_per_second))
        self._horizon_us = round(horizon_seconds * _MICROS)
        self._clock = clock
        self._sleep = sleep

    @property
    def rate_per_second(self) -> float:
        return _MICROS / self._interval_us

    def acquire(self) -> float:
        """Reserve the next send time of the number and wait for it; the seconds waited.

        Raises :class:`TableUnavailableError` (retryable) when the table cannot be asked.
        """
        started = self._clock()
        pause = self.reserve() - self._clock()
        if pause > 0:
            self._sleep(pause)
        return max(0.0, self._clock() - started)

    def reserve(self) -> float:
        """The next send time of the number (epoch seconds), now taken by the caller.

        Waits only while the line reaches beyond the horizon.
        """
        for _ in range(_MAX_ATTEMPTS):
            now = self._now_us()
            slot = self._reserve(now)
            if slot is None:
                # Someone else moved the line between our two updates: ask again at once.
                continue
            if isinstance(slot, _Full):
                # Wait for the line to shorten to the horizon, spread so that waiters do not all
                # ask again in the same instant.
                self._sleep((slot.next_us - now - self._horizon_us) / _MICROS + random.uniform(0, 0.05))  # noqa: S311 (jitter)
                continue
            return slot / _MICROS
        raise PaceUnavailableError("no send time could be reserved: the send line stayed full")

    def _reserve(self, now: int) -> int | _Full | None:
        """The reserved time, the full line's end, or None when the line changed under us."""
        try:
            answer = self._table.update(
                self._key,
                UpdateExpression="SET next_us = next_us + :interval, expires_at = :expires",
                ConditionExpression="next_us BETWEEN :now AND :latest",
                ExpressionAttributeValues={
                    ":interval": self._interval_us,
                    ":now": now,
                    ":latest": now + self._horizon_us,
                    ":expires": now // _MICROS + _TTL_SECONDS,
                },
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return int(answer["Attributes"]["next_us"])
        except ConditionFailed as failed:
            stored = failed.stored.get("next_us") if failed.stored else None
        if stored is not None and int(stored) > now:
            return _Full(int(stored))
        # The line is empty: start it at now, unless another send just did.
        try:
            self._table.update(
                self._key,
                UpdateExpression="SET next_us = :next, expires_at = :expires",
                ConditionExpression="attribute_not_exists(next_us) OR next_us < :now",
                ExpressionAttributeValues={
                    ":next": now + self._interval_us,
                    ":now": now,
                    ":expires": now // _MICROS + _TTL_SECONDS,
                },
            )
        except ConditionFailed:
            return None
        return now

    def _now_us(self) -> int:
        return int(self._clock() * _MICROS)


class _Full:
    __slots__ = ("next_us",)

    def __init__(self, next_us: int) -> None:
        self.next_us = next_us
