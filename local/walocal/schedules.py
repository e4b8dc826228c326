"""The template's EventBridge Scheduler schedules (``ScheduleV2``), run locally at their times.

Supports the expressions Scheduler does: ``cron(min hour day-of-month month day-of-week year)``
in the schedule's time zone, ``rate(N unit)`` and ``at(yyyy-mm-ddThh:mm:ss)``. Cron fields take
``*``, ``?``, lists, ranges, steps and day/month names; ``L``, ``W`` and ``#`` are not supported
(a schedule using them is refused at start-up rather than run at the wrong time).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger("walocal.schedules")

_MONTHS = {
    name: i
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
# Scheduler's cron counts days of the week from 1 = Sunday.
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_SEARCH_LIMIT = timedelta(days=366 * 5)
_CRON_PART = re.compile(r"(\*|\?|[0-9A-Z]+(-[0-9A-Z]+)?)(/[0-9]+)?")


class ScheduleExpressionError(ValueError):
    """An expression the local scheduler cannot run faithfully."""


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """The values a cron field allows; None means any (``*`` or ``?``)."""
    if text in {"*", "?"}:
        return None
    values: set[int] = set()
    for part in text.upper().split(","):
        if not _CRON_PART.fullmatch(part):
            raise ScheduleExpressionError(
                f"cron field {text!r} is not supported locally (L, W and # are not)"
            )
        range_part, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if range_part in {"*", "?"}:
            start, end = low, high
        else:
            first, _, last = range_part.partition("-")
            start = _value(first, names)
            end = _value(last, names) if last else (high if step_text else start)
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ScheduleExpressionError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleExpressionError(f"cron value {text!r} is not understood")
    return int(text)


@dataclass(frozen=True)
class CronExpression:
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 1 = Sunday
    years: frozenset[int] | None

    @classmethod
    def parse(cls, body: str) -> CronExpression:
        parts = body.split()
        if len(parts) != 6:
            raise ScheduleExpressionError(f"cron({body}) must have 6 fields")
        return cls(
            minutes=_field(parts[0], 0, 59),
            hours=_field(parts[1], 0, 23),
            days=_field(parts[2], 1, 31),
            months=_field(parts[3], 1, 12, _MONTHS),
            weekdays=_field(parts[4], 1, 7, _DAYS),
            years=_field(parts[5], 1970, 2199),
        )

    def matches(self, moment: datetime) -> bool:
        weekday = moment.isoweekday() % 7 + 1  # isoweekday: Monday 1 .. Sunday 7
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self.minutes, moment.minute),
                (self.hours, moment.hour),
                (self.days, moment.day),
                (self.months, moment.month),
                (self.weekdays, weekday),
                (self.years, moment.year),
            )
        )

    def next_after(self, moment: datetime) -> datetime | None:
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = moment + _SEARCH_LIMIT
        while candidate <= limit:
            if not self.matches(candidate):
                # Skip whole hours or days that cannot match, so a yearly schedule is found quickly.
                if self.hours is not None and candidate.hour not in self.hours:
                    candidate = candidate.replace(minute=0) + timedelta(hours=1)
                    continue
                candidate += timedelta(minutes=1)
                continue
            return candidate
        return None


@dataclass(frozen=True)
class ScheduleTimer:
    """When a schedule fires: ``next_after`` gives the next fire time (UTC) after a moment."""

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        self.next_after(datetime.now(UTC))  # refuse a bad expression when the runtime starts

    def next_after(self, moment: datetime) -> datetime | None:
        zone = ZoneInfo(self.timezone)
        match = re.fullmatch(r"(cron|rate|at)\((.*)\)", self.expression.strip())
        if match is None:
            raise ScheduleExpressionError(f"{self.expression!r} is not cron(...), rate(...) or at(...)")
        kind, body = match.groups()
        if kind == "rate":
            amount, _, unit = body.partition(" ")
            if unit not in _RATE_UNITS or not amount.isdigit() or int(amount) < 1:
                raise ScheduleExpressionError(f"rate({body}) is not understood")
            return moment + timedelta(seconds=int(amount) * _RATE_UNITS[unit])
        if kind == "at":
            at = datetime.fromisoformat(body).replace(tzinfo=zone).astimezone(UTC)
            return at if at > moment else None
        local = CronExpression.parse(body).next_after(moment.astimezone(zone))
        return local.astimezone(UTC) if local else None


class ScheduleRunner:
    """Fires each enabled schedule at its time, on a background thread, until stopped."""

    def __init__(
        self,
        schedules: list[tuple[str, ScheduleTimer, Callable[[], Any]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._schedules = schedules
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def next_fire_times(self) -> dict[str, datetime | None]:
        now = self._clock()
        return {name: timer.next_after(now) for name, timer, _ in self._schedules}

    def start(self) -> None:
        if self._schedules:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        upcoming = self.next_fire_times()
        while not self._stop.is_set():
            now = self._clock()
            due = [when for when in upcoming.values() if when is not None]
            if not due:
                return
            wait = (min(due) - now).total_seconds()
            if wait > 0:
                self._stop.wait(min(wait, 30.0))
                continue
            for name, timer, fire in self._schedules:
                when = upcoming[name]
                if when is not None and when <= now:
                    log.info("schedule %s fires", name)
                    try:
                        fire()
                    except Exception:
                        log.exception("schedule %s failed", name)
                    upcoming[name] = timer.next_after(when)
