"""``wactl stats``: a day's or several days' traffic: received, stored, sent, delivered, read, failed
by Meta's error code.

Two sources. ``--from metrics`` (the default for a deployed stack) reads the functions' metrics
(CloudWatch, namespace WhatsAppCloud, ``service`` = the stack's name): one GetMetricData call, no
table reads. ``--from table`` (the default locally, where no metrics are collected) counts the
table's items with one Scan (docs/data-model.md), which costs read units for the whole table.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.activity import DayActivity
from wactl.arguments import day
from wactl.errors import WactlError, reason
from wactl.failed import day_count, days_ending
from wactl.output import Output, table
from wactl.records import Records
from wactl.target import DEFAULT_STACK, OUTPUT_TABLE, Target, from_arguments

NAMESPACE = "WhatsAppCloud"
STATUSES = ("sent", "delivered", "read", "failed")
# GetMetricData takes up to 500 queries a call.
MAX_QUERIES = 500


@dataclass
class DayStats:
    """One day's figures, whichever source they come from (None: the source cannot tell)."""

    day: str
    webhooks: int | None
    received: int
    stored: int
    sent: int
    statuses: Counter[str] = field(default_factory=Counter)
    failed_codes: Counter[str] = field(default_factory=Counter)

    def document(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "webhooks": self.webhooks,
            "received": self.received,
            "stored": self.stored,
            "sent": self.sent,
            # "sent" is Meta's acceptance; its "sent" status webhooks are counted apart.
            "sent_statuses": self.statuses.get("sent", 0),
            **{status: self.statuses.get(status, 0) for status in STATUSES if status != "sent"},
            "failed_by_code": dict(sorted(self.failed_codes.items())),
        }


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    stats = commands.add_parser(
        "stats",
        parents=[common],
        help="traffic of a day or several: received, stored, sent, delivered, read, failed by code",
        description="Per day (UTC): webhooks received, messages received from contacts, updates "
        "stored, messages sent (accepted by Meta), their delivered / read / failed statuses and "
        "Meta's error codes of what failed.",
    )
    stats.add_argument("--day", type=day, metavar="YYYY-MM-DD", help="the (last) day, UTC (default today)")
    stats.add_argument("--days", type=day_count, default=1, metavar="N", help="the N days ending with --day")
    stats.add_argument(
        "--from",
        dest="source",
        choices=("table", "metrics"),
        help="count the table's items (one Scan; the default with --local) or read the stack's "
        "metrics (the default for a stack)",
    )
    stats.set_defaults(handler=_stats_command)


def _stats_command(args: argparse.Namespace, out: Output) -> int:
    days = days_ending(args.day or time.strftime("%Y-%m-%d", time.gmtime()), args.days)
    source = args.source or ("table" if args.local else "metrics")
    if source == "table":
        target = from_arguments(args, needs=[OUTPUT_TABLE])
        out.counter(f"reading table {target.table_name} (one Scan)")
        found = Records(target.table()).activity(days)
        out.counter_done()
        rows = [_from_activity(found.days[current]) for current in days]
        where = f"{target.description}, table {target.table_name}"
    else:
        # The metrics need no stack output: their service dimension is the stack's name.
        target = from_arguments(args, needs=[])
        service = args.stack if not args.local else DEFAULT_STACK
        rows = metric_stats(target, service, days)
        where = f"metrics of stack {service} ({target.session.region_name})"
    lines = [f"Traffic by day (UTC), {where}"]
    lines += table(
        ["DAY", "WEBHOOKS", "RECEIVED", "STORED", "SENT", "DELIVERED", "READ", "FAILED", "FAILED BY CODE"],
        [
            [
                row.day,
                "-" if row.webhooks is None else str(row.webhooks),
                str(row.received),
                str(row.stored),
                str(row.sent),
                *(str(row.statuses.get(status, 0)) for status in ("delivered", "read", "failed")),
                _codes(row.failed_codes),
            ]
            for row in rows
        ],
    )
    if len(rows) > 1:
        summed = _sum(rows)
        lines.append(
            f"Total: {summed.received} received, {summed.stored} stored, {summed.sent} sent, "
            f"{summed.statuses.get('delivered', 0)} delivered, {summed.statuses.get('read', 0)} read, "
            f"{summed.statuses.get('failed', 0)} failed ({_codes(summed.failed_codes)})"
        )
    lines.append(
        "RECEIVED: messages from contacts; STORED: every update stored (messages, statuses, other "
        "fields); SENT: accepted by Meta; FAILED: failed statuses; BY CODE: those and sends that "
        "failed before Meta took them. wactl failed lists each one."
    )
    out.result({"target": where, "source": source, "days": [r.document() for r in rows]}, lines)
    return 0


def _from_activity(activity: DayActivity) -> DayStats:
    return DayStats(
        day=activity.day,
        webhooks=None,
        received=activity.received,
        stored=activity.stored,
        sent=activity.sent,
        statuses=Counter(activity.statuses),
        failed_codes=Counter(activity.failed_codes),
    )


def _sum(rows: Sequence[DayStats]) -> DayStats:
    summed = DayStats("total", None, 0, 0, 0)
    for row in rows:
        summed.received += row.received
        summed.stored += row.stored
        summed.sent += row.sent
        summed.statuses.update(row.statuses)
        summed.failed_codes.update(row.failed_codes)
    return summed


def _codes(codes: Mapping[str, int]) -> str:
    return ", ".join(f"{code}: {count}" for code, count in sorted(codes.items())) or "-"


# ---------------------------------------------------------------- from the metrics


@dataclass(frozen=True)
class _Query:
    id: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


def metric_stats(target: Target, service: str, days: Sequence[str]) -> list[DayStats]:
    """The days' figures from the functions' metrics, one daily sum each."""
    cloudwatch = target.client("cloudwatch")
    try:
        queries = _queries(cloudwatch, service)
        sums = _daily_sums(cloudwatch, queries, days)
    except (BotoCoreError, ClientError) as exc:
        raise WactlError(f"cannot read the metrics of stack {service} ({reason(exc)})") from exc
    rows = []
    for current in days:
        row = DayStats(current, 0, 0, 0, 0)
        for query in queries:
            value = int(sums.get((query.id, current), 0))
            dims = dict(query.dimensions)
            if query.name == "WebhooksReceived":
                row.webhooks = value
            elif query.name == "MessagesStored":
                row.received += value
                row.stored += value
            elif query.name in ("StatusesStored", "OtherUpdatesStored"):
                row.stored += value
                if "status" in dims:
                    row.statuses[dims["status"]] += value
            elif query.name == "MessagesSent":
                row.sent += value
            elif query.name in ("SendFailures", "StatusErrors"):
                row.failed_codes[dims["code"]] += value
        rows.append(row)
    return rows


def _queries(cloudwatch: Any, service: str) -> list[_Query]:
    """Every series of the metrics the figures add up, as ListMetrics names them (the codes and
    types seen), filtered to the stack's service."""
    wanted = {
        "WebhooksReceived": None,
        "MessagesStored": None,
        "StatusesStored": None,
        "OtherUpdatesStored": None,
        "MessagesSent": ("result", "accepted"),
        "SendFailures": None,
        "StatusErrors": None,
    }
    queries: list[_Query] = []
    for name, only in wanted.items():
        paginator = cloudwatch.get_paginator("list_metrics")
        pages = paginator.paginate(
            Namespace=NAMESPACE, MetricName=name, Dimensions=[{"Name": "service", "Value": service}]
        )
        for page in pages:
            for metric in page.get("Metrics", []):
                dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
                if only is not None and only not in dims:
                    continue
                queries.append(_Query(f"q{len(queries)}", name, dims))
    return queries[:MAX_QUERIES]


def _daily_sums(
    cloudwatch: Any, queries: Sequence[_Query], days: Sequence[str]
) -> dict[tuple[str, str], float]:
    if not queries:
        return {}
    start = datetime.combine(date.fromisoformat(days[0]), datetime.min.time(), UTC)
    end = datetime.combine(date.fromisoformat(days[-1]), datetime.min.time(), UTC) + timedelta(days=1)
    request: dict[str, Any] = {
        "MetricDataQueries": [
            {
                "Id": query.id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": query.name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in query.dimensions],
                    },
                    "Period": 86_400,
                    "Stat": "Sum",
                },
            }
            for query in queries
        ],
        "StartTime": start,
        "EndTime": end,
    }
    sums: dict[tuple[str, str], float] = {}
    while True:
        answer = cloudwatch.get_metric_data(**request)
        for result in answer.get("MetricDataResults", []):
            for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                key = (result["Id"], stamp.astimezone(UTC).date().isoformat())
                sums[key] = sums.get(key, 0.0) + float(value)
        if not answer.get("NextToken"):
            return sums
        request["NextToken"] = answer["NextToken"]
