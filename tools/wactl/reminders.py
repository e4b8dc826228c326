"""``wactl reminders run``: fire the daily reminder schedule now.

It invokes the sender with the schedule's input, read from template.yaml (the ``DailyReminder``
ScheduleV2 event), exactly as EventBridge Scheduler would. The run is for today in the reminder's
time zone and is idempotent per day: a second run the same day enqueues nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from wactl.errors import WactlError
from wactl.invoke import invoke_sender
from wactl.output import Output
from wactl.target import OUTPUT_SENDER, from_arguments

SCHEDULE = "DailyReminder"


class ScheduleError(WactlError):
    """The schedule's input cannot be read from the template."""


def schedule_input(name: str = SCHEDULE) -> Any:
    """The event Scheduler passes to the sender: the schedule's Input, parsed."""
    try:
        # Imported here: only this command needs the template (and PyYAML, a development tool).
        from walocal.template import Template  # noqa: PLC0415

        schedules = {schedule.name: schedule for schedule in Template.load().schedules()}
    except (ImportError, OSError) as exc:
        raise ScheduleError(
            f"cannot read the schedules of template.yaml ({exc}); run wactl from the project"
        ) from exc
    schedule = schedules.get(name)
    if schedule is None:
        raise ScheduleError(
            f"template.yaml has no schedule {name} (it has: {', '.join(schedules) or 'none'})"
        )
    if not isinstance(schedule.input, str):
        raise ScheduleError(f"{name}'s Input in template.yaml is not a literal JSON string")
    try:
        return json.loads(schedule.input)
    except ValueError as exc:
        raise ScheduleError(f"{name}'s Input in template.yaml is not JSON: {exc}") from exc


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    reminders = commands.add_parser(
        "reminders",
        help="the daily reminder: run it now",
        description="The daily reminder (docs/sender.md): a template to every opted-in contact, once a day.",
    )
    actions = reminders.add_subparsers(dest="reminders_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        parents=[common],
        help="fire the reminder schedule now",
        description=f"Invoke the sender with the {SCHEDULE} schedule's input from template.yaml, as the "
        "schedule would. The run is for today (the reminder's time zone) and once per day: "
        "running it again the same day enqueues nothing.",
    )
    run.set_defaults(handler=_run_command)


def _run_command(args: argparse.Namespace, out: Output) -> int:
    event = schedule_input()
    target = from_arguments(args, needs=[OUTPUT_SENDER])
    out.progress(
        f"Running the {SCHEDULE} schedule: invoking {target.sender_function} with {json.dumps(event)} ..."
    )
    invocation = invoke_sender(target, event)
    summary = invocation.answer if isinstance(invocation.answer, dict) else {}
    if "enqueued" not in summary:
        raise WactlError(f"{invocation.function} answered without a reminder summary: {invocation.answer!r}")
    document = {
        "target": target.invoke_description,
        "function": invocation.function,
        "event": event,
        "summary": summary,
    }
    if summary.get("already_done"):
        outcome = "already done today: nothing enqueued (runs once per day)"
    else:
        queued, skipped = summary["enqueued"], summary.get("skipped", 0)
        outcome = (
            f"{queued} reminder{'' if queued == 1 else 's'} queued, "
            f"{skipped} contact{'' if skipped == 1 else 's'} skipped"
        )
        if summary.get("continued"):
            outcome += "; the rest continues in a queued job"
    lines = [f"Daily reminder for {summary.get('date')} ({target.invoke_description}): {outcome}."]
    if summary.get("enqueued"):
        lines.append("The sender sends them from the outbound queue; refusals show in wactl failed.")
    out.result(document, lines)
    return 0
