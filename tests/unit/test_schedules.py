"""Local EventBridge Scheduler: expressions, time zones, and firing the template's schedules."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from walocal.runtime import schedule_event
from walocal.schedules import ScheduleExpressionError, ScheduleRunner, ScheduleTimer
from walocal.template import Template


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "timezone", "after", "expected"),
    [
        ("cron(0 9 * * ? *)", "UTC", "2026-11-21T08:59:30", "2026-11-21T09:00:00"),
        ("cron(0 9 * * ? *)", "UTC", "2026-11-21T09:00:00", "2026-11-22T09:00:00"),
        # Madrid is UTC+1 in November and UTC+2 in July.
        ("cron(0 9 * * ? *)", "Europe/Madrid", "2026-11-21T07:00:00", "2026-11-21T08:00:00"),
        ("cron(0 9 * * ? *)", "Europe/Madrid", "2026-07-01T06:00:00", "2026-07-01T07:00:00"),
        # 2026-11-20 is a Friday: the next weekday run is Monday the 23rd.
        ("cron(30 9 ? * MON-FRI *)", "UTC", "2026-11-20T10:00:00", "2026-11-23T09:30:00"),
        ("cron(0/15 * * * ? *)", "UTC", "2026-11-21T10:07:00", "2026-11-21T10:15:00"),
        ("cron(0 0 1 JAN ? 2027)", "UTC", "2026-11-21T10:07:00", "2027-01-01T00:00:00"),
        ("cron(0 12 ? * 1 *)", "UTC", "2026-11-21T13:00:00", "2026-11-22T12:00:00"),  # 1 = Sunday
        ("rate(5 minutes)", "UTC", "2026-11-21T10:07:00", "2026-11-21T10:12:00"),
        ("at(2026-12-24T18:00:00)", "UTC", "2026-11-21T10:07:00", "2026-12-24T18:00:00"),
    ],
)
def test_next_fire_time(expression: str, timezone: str, after: str, expected: str) -> None:
    assert ScheduleTimer(expression, timezone).next_after(utc(after)) == utc(expected)


def test_a_past_at_expression_never_fires_again() -> None:
    assert ScheduleTimer("at(2020-01-01T00:00:00)").next_after(utc("2026-11-21T00:00:00")) is None


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 9 L * ? *)",
        "cron(0 9 ? * 6#3 *)",
        "cron(0 9 15W * ? *)",
        "cron(0 9 * *)",
        "daily",
        "rate(0 days)",
    ],
)
def test_unsupported_expressions_are_refused_at_start(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        ScheduleTimer(expression)


def test_scheduler_fires_when_due() -> None:
    fired = threading.Event()
    now = [utc("2026-11-21T08:59:59")]
    scheduler = ScheduleRunner(
        [("Daily", ScheduleTimer("cron(0 9 * * ? *)"), fired.set)], clock=lambda: now[0]
    )
    assert scheduler.next_fire_times() == {"Daily": utc("2026-11-21T09:00:00")}
    scheduler.start()
    try:
        assert not fired.wait(0.2)
        now[0] = utc("2026-11-21T09:00:01")
        assert fired.wait(5)
    finally:
        scheduler.stop()


def test_the_templates_daily_reminder_is_understood() -> None:
    template = Template.load()
    [reminder] = [s for s in template.schedules() if s.name == "DailyReminder"]
    assert reminder.function == "SenderFunction"
    defaults = template.parameter_defaults()
    timer = ScheduleTimer(defaults["ReminderScheduleExpression"], defaults["ReminderTimezone"])
    assert timer.next_after(utc("2026-11-21T00:00:00")) is not None
    assert schedule_event(reminder.input) == {"source": "schedule", "job": "daily_reminder"}
