"""``wactl failed``: the messages that failed, day by day, with Meta's error codes.

Two kinds share the failed-messages index (``gsi2``, ``FAILED#<day>``): messages Meta accepted and
later reported ``failed`` in a status webhook (``MSG#<wamid>``), and sends that failed before Meta
gave them a wamid, refusals by the sender's own rules included (``SEND#<id>``).
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from typing import Any

from wactl.arguments import day, positive_int
from wactl.output import Output, plain, shorten, table, utc
from wactl.records import Records, error_text, errors_of
from wactl.target import OUTPUT_TABLE, from_arguments

MAX_DAYS = 366
ERROR_CHARS = 70


def day_count(text: str) -> int:
    count = positive_int(text)
    if count > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"at most {MAX_DAYS}")
    return count


def days_ending(last: str, count: int) -> list[str]:
    end = date.fromisoformat(last)
    return [(end - timedelta(days=back)).isoformat() for back in range(count - 1, -1, -1)]


def describe(item: dict[str, Any]) -> dict[str, Any]:
    """One failed item, the same way whichever kind it is."""
    is_send = "send_id" in item
    return {
        "kind": "send" if is_send else "status",
        "id": item.get("send_id") if is_send else item.get("wamid"),
        "time": plain(item.get("timestamp") if is_send else item.get("status_at")),
        "to": item.get("wa_id") or item.get("recipient_id"),
        "type": item.get("type"),
        "errors": errors_of(item),
        "retryable": item.get("retryable"),
        "idempotency_key": item.get("idempotency_key"),
        "item": plain(item),
    }


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    failed = commands.add_parser(
        "failed",
        parents=[common],
        help="failed messages with their error codes",
        description="Failed messages of a day or of several: failed status webhooks (kind status, "
        "by wamid) and sends that failed before Meta accepted them (kind send, by send id).",
    )
    failed.add_argument("--day", type=day, metavar="YYYY-MM-DD", help="the (last) day, UTC (default today)")
    failed.add_argument(
        "--days",
        type=day_count,
        default=1,
        metavar="N",
        help=f"the N days ending with --day (default 1, at most {MAX_DAYS})",
    )
    failed.set_defaults(handler=_failed_command)


def _failed_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    records = Records(target.table())
    days = days_ending(args.day or time.strftime("%Y-%m-%d", time.gmtime()), args.days)
    failures: list[dict[str, Any]] = []
    for index, current in enumerate(days, start=1):
        out.counter(f"{current} ({index}/{len(days)}): {len(failures)} failed so far")
        failures += [describe(item) for item in records.failed(current)]
    out.counter_done()
    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    document = {"target": target.description, "days": days, "failed": failures}
    lines = [f"Failed messages {span} (UTC), {target.description}: {len(failures)}"]
    if failures:
        rows = [
            [
                utc(failure["time"]),
                failure["kind"],
                str(failure["to"] or "-"),
                str(failure["type"] or "-"),
                str(failure["id"] or "-"),
                shorten(error_text(failure["errors"]), ERROR_CHARS),
            ]
            for failure in failures
        ]
        lines += table(["TIME (UTC)", "KIND", "TO", "TYPE", "ID", "ERROR"], rows)
        if any(failure["kind"] == "status" for failure in failures):
            lines.append("A status failure's history: wactl message <wamid>")
    out.result(document, lines)
    return 0
