"""``wactl raw``: the raw webhook payloads the processor archived, listed and replayed.

Every POST is archived before it is parsed (``RAW#<sha256>``, listed by day of receipt on index
``gsi1``), so a payload stored wrongly or not at all (a bug since fixed) can be processed again:
``replay`` puts the archived body back on the webhook queue with its original receipt attributes,
as the webhook function queued it, plus a ``replay`` attribute that makes the processor store it
again even if it stored it in full before. Bodies archived in S3 go as the pointer the item holds,
with ``payload_location`` ``s3``, and the processor reads them from the bucket. Processing is
idempotent, so replaying a payload stored correctly changes nothing.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.processor.updates import REPLAY_ATTRIBUTE
from wacloud.table.items import queued_webhook_of_archive
from wacloud.webhook.envelope import QueuedWebhook
from wactl.arguments import day, positive_int
from wactl.dlq import summarize
from wactl.errors import WactlError, reason
from wactl.output import Output, plain, table, utc
from wactl.records import Records
from wactl.target import OUTPUT_QUEUE, OUTPUT_TABLE, from_arguments

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

DEFAULT_LIST_MAX = 100
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RawPayload:
    """An archived payload, and the queue message that brings it back to the processor."""

    item: dict[str, Any]

    @property
    def sha256(self) -> str:
        return str(self.item["sha256"])

    @property
    def message(self) -> QueuedWebhook:
        """The queue message: the exact text received, or the pointer to it in the bucket."""
        return queued_webhook_of_archive(self.item)

    @property
    def summary(self) -> str:
        return summarize(self.message)

    def as_json(self) -> dict[str, Any]:
        return {**plain(self.item), "summary": self.summary}


@dataclass
class ReplayReport:
    queue_url: str
    dry_run: bool
    replayed: list[tuple[RawPayload, str | None]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def replay(
    sqs: SQSClient,
    queue_url: str,
    payloads: list[RawPayload | str],
    *,
    dry_run: bool = False,
    on_progress: Callable[[str], None] = lambda line: None,
) -> ReplayReport:
    """Queue each payload again; a sha256 given instead of a payload is one not found."""
    report = ReplayReport(queue_url=queue_url, dry_run=dry_run)
    for index, payload in enumerate(payloads, start=1):
        if isinstance(payload, str):
            report.failed.append((payload, "not found"))
            on_progress(f"{index:>5} not found     {payload}")
            continue
        if dry_run:
            report.replayed.append((payload, None))
            on_progress(f"{index:>5} would replay  {payload.sha256} {payload.summary}")
            continue
        try:
            message = payload.message
            attributes: dict[str, MessageAttributeValueTypeDef] = {
                **message.sqs_attributes(),
                REPLAY_ATTRIBUTE: {"DataType": "String", "StringValue": "wactl raw replay"},
            }
            sent = sqs.send_message(
                QueueUrl=queue_url, MessageBody=message.body, MessageAttributes=attributes
            )
        except (BotoCoreError, ClientError) as exc:
            report.failed.append((payload.sha256, reason(exc)))
            on_progress(f"{index:>5} failed        {payload.sha256} {reason(exc)}")
            continue
        report.replayed.append((payload, sent["MessageId"]))
        on_progress(f"{index:>5} replayed      {payload.sha256} {payload.summary}")
    return report


# ------------------------------------------------------------------------------ command line
def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    raw = commands.add_parser(
        "raw",
        help="archived raw webhook payloads: list them, replay them",
        description="Every webhook POST is archived as received (RawPayloadRetentionDays, default 30).",
    )
    actions = raw.add_subparsers(dest="raw_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="list the payloads received on a day",
        description="The payloads received on a day (UTC), in order of receipt, with their SHA-256.",
    )
    listing.add_argument("--day", type=day, metavar="YYYY-MM-DD", help="day of receipt, UTC (default today)")
    listing.add_argument(
        "--max",
        type=positive_int,
        default=DEFAULT_LIST_MAX,
        metavar="N",
        help=f"show at most N (default {DEFAULT_LIST_MAX})",
    )
    listing.set_defaults(handler=_list_command)

    replaying = actions.add_parser(
        "replay",
        parents=[common],
        help="queue archived payloads again for the processor",
        description="Put archived payloads back on the webhook queue with their original receipt "
        "attributes, so the processor stores them again (idempotent: what is stored already stays "
        "as it is). Name them by SHA-256 (from wactl raw list) or take a whole day.",
    )
    replaying.add_argument("sha256", nargs="*", help="SHA-256 of a payload's body, as listed")
    replaying.add_argument(
        "--day", type=day, metavar="YYYY-MM-DD", help="every payload received that day (UTC)"
    )
    replaying.add_argument(
        "--max", type=positive_int, default=None, metavar="N", help="with --day: at most N (default all)"
    )
    replaying.add_argument("--dry-run", action="store_true", help="show what would be replayed, send nothing")
    replaying.set_defaults(handler=_replay_command)


def _list_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    on = args.day or _today()
    payloads = []
    # One more than shown tells whether there are more.
    for item in Records(target.table()).raw_payloads(on, args.max + 1):
        payloads.append(RawPayload(item))
        out.counter(f"{len(payloads)} payloads read")
    out.counter_done()
    more = len(payloads) > args.max
    payloads = payloads[: args.max]
    document = {
        "target": target.description,
        "day": on,
        "more": more,
        "payloads": [payload.as_json() for payload in payloads],
    }
    lines = [f"Raw payloads received {on} (UTC), {target.description}: {len(payloads)}{'+' if more else ''}"]
    if payloads:
        rows = [
            [
                utc(int(payload.item["received_at_ms"]) / 1000),
                payload.sha256,
                f"{int(payload.item.get('size', 0)):,}",
                "s3" if payload.message.in_bucket else "table",
                payload.summary,
            ]
            for payload in payloads
        ]
        lines += table(["RECEIVED (UTC)", "SHA256", "BYTES", "BODY IN", "SUMMARY"], rows)
        if more:
            lines.append(f"Showing the first {args.max}: --max N for more.")
        lines.append("Replay: wactl raw replay <sha256>... or wactl raw replay --day " + on)
    out.result(document, lines)
    return 0


def _replay_command(args: argparse.Namespace, out: Output) -> int:
    if bool(args.sha256) == bool(args.day):
        raise WactlError(
            "name the payloads: wactl raw replay <sha256>... or wactl raw replay --day YYYY-MM-DD"
        )
    if args.max is not None and not args.day:
        raise WactlError("--max goes with --day")
    wanted = [digest.lower() for digest in args.sha256]
    malformed = [digest for digest in wanted if not _SHA256.match(digest)]
    if malformed:
        raise WactlError(f"not a SHA-256 (64 hex digits): {', '.join(malformed)}")
    target = from_arguments(args, needs=[OUTPUT_QUEUE, OUTPUT_TABLE])
    records = Records(target.table())
    payloads: list[RawPayload | str] = []
    if args.day:
        for item in records.raw_payloads(args.day, args.max):
            payloads.append(RawPayload(item))
            out.counter(f"{len(payloads)} payloads read")
        out.counter_done()
    else:
        for digest in dict.fromkeys(wanted):  # once each, in the order given
            stored = records.raw_payload(digest)
            payloads.append(digest if stored is None else RawPayload(stored))
    report = replay(
        target.sqs(), target.webhook_queue_url, payloads, dry_run=args.dry_run, on_progress=out.progress
    )
    document = {
        "target": target.description,
        "queue_url": report.queue_url,
        "dry_run": report.dry_run,
        "replayed": [
            {"sha256": payload.sha256, "message_id": message_id} for payload, message_id in report.replayed
        ],
        "failed": [{"sha256": digest, "error": error} for digest, error in report.failed],
    }
    verb = "Would replay" if report.dry_run else "Replayed"
    count = len(report.replayed)
    lines = [
        f"{verb} {count} payload{'' if count == 1 else 's'} to {report.queue_url} ({target.description})."
    ]
    if report.failed:
        lines.append(f"{len(report.failed)} could not be replayed (listed above).")
    out.result(document, lines)
    return 1 if report.failed else 0


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())
