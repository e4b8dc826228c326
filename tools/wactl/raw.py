"""``wactl raw``: the raw webhook payloads the processor archived, listed, shown and replayed.

Every POST is archived before it is parsed (``RAW#<sha256>``, listed by day of receipt on index
``gsi1``), so a payload stored wrongly or not at all (a bug since fixed) can be processed again:
``replay`` puts the archived body back on the webhook queue with its original receipt attributes,
as the webhook function queued it, plus a ``replay`` attribute that makes the processor store it
again even if it stored it in full before. Bodies archived in S3 go as the pointer the item holds,
with ``payload_location`` ``s3``, and the processor reads them from the bucket. Processing is
idempotent, so replaying a payload stored correctly changes nothing.

``list`` notes what became of each payload when it was not plain success: rejected (not a
webhook, with why) or with parts the models could not type; ``show`` gives one payload's details:
those parts with their errors, and why the latest failed attempt at it failed.
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
from wactl.errors import WactlError, reason
from wactl.output import Output, plain, shorten, table, utc
from wactl.records import Records
from wactl.summary import summarize
from wactl.target import OUTPUT_QUEUE, OUTPUT_TABLE, from_arguments

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

DEFAULT_LIST_MAX = 100
NOTE_CHARS = 60
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

    @property
    def note(self) -> str:
        """What became of it, when not plain success: rejected, or parts left untyped."""
        if self.item.get("rejected"):
            return f"rejected: {self.item['rejected']}"
        untyped = int(self.item.get("untyped", 0))
        if untyped:
            return f"{untyped} part{'' if untyped == 1 else 's'} untyped"
        return "-"

    def as_json(self) -> dict[str, Any]:
        return {**plain(self.item), "summary": self.summary, "note": None if self.note == "-" else self.note}


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

    showing = actions.add_parser(
        "show",
        parents=[common],
        help="one payload: what became of it, its untyped parts, its latest failure",
        description="A payload's archive item, whether it was rejected and why, each part the "
        "models could not type with the validation error, and why the latest failed attempt at it "
        "failed (if one did).",
    )
    showing.add_argument("sha256", help="SHA-256 of the payload's body, as listed")
    showing.set_defaults(handler=_show_command)

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
                payload.summary
                if payload.note == "-"
                else f"{payload.summary} [{shorten(payload.note, NOTE_CHARS)}]",
            ]
            for payload in payloads
        ]
        lines += table(["RECEIVED (UTC)", "SHA256", "BYTES", "BODY IN", "SUMMARY"], rows)
        if more:
            lines.append(f"Showing the first {args.max}: --max N for more.")
        lines.append("Replay: wactl raw replay <sha256>... or wactl raw replay --day " + on)
        if any(payload.note != "-" for payload in payloads):
            lines.append("Details of a payload: wactl raw show <sha256>")
    out.result(document, lines)
    return 0


def _show_command(args: argparse.Namespace, out: Output) -> int:
    digest = args.sha256.lower()
    if not _SHA256.match(digest):
        raise WactlError(f"not a SHA-256 (64 hex digits): {args.sha256}")
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    records = Records(target.table())
    item = records.raw_payload(digest)
    parts = records.untyped_parts(digest)
    failure = records.failures([digest]).get(digest)
    if item is None and not parts and failure is None:
        raise WactlError(
            f"no payload {digest} in {target.description} (archives expire after RawPayloadRetentionDays)"
        )
    payload = RawPayload(item) if item is not None else None
    document = {
        "target": target.description,
        "sha256": digest,
        "payload": payload.as_json() if payload is not None else None,
        "untyped": [plain(part) for part in parts],
        "last_failure": plain(failure) if failure is not None else None,
    }
    lines = [f"Payload {digest} ({target.description})"]
    if payload is None:
        lines.append("Archive: expired or never written.")
    else:
        received = utc(int(payload.item["received_at_ms"]) / 1000)
        where = "s3" if payload.message.in_bucket else "table"
        lines.append(f"Received {received} UTC, {int(payload.item.get('size', 0)):,} bytes, body in {where}.")
        lines.append(f"Holds: {payload.summary}")
        if payload.item.get("rejected"):
            lines.append(f"Rejected: {payload.item['rejected']} (not retried)")
        if "processed_updates" in payload.item:
            lines.append(f"Stored in full: {int(payload.item['processed_updates'])} updates.")
    if parts:
        lines.append(f"Parts the models could not type (stored as sent): {len(parts)}")
        lines += table(
            ["PATH", "KIND", "ERROR"],
            [[str(part["path"]), str(part["kind"]), shorten(str(part["error"]), 100)] for part in parts],
        )
    if failure is not None:
        lines.append(
            f"Latest failed attempt: {utc(int(failure['failed_at']))} UTC, receive "
            f"{int(failure['receive_count'])}: {failure['reason']}"
        )
    if payload is not None and (parts or payload.item.get("rejected")):
        lines.append(f"After a fix: wactl raw replay {digest}")
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
