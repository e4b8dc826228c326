"""``wactl dlq``: what the processor could not store, why, and getting it stored or dropped.

Two kinds of webhook end here:

- **dead-lettered**: the processor failed it ``maxReceiveCount`` times for a reason that might
  pass (the table or the bucket failing, time running out; see template.yaml), so SQS moved it to
  the dead-letter queue. The processor notes why each attempt failed, and ``list`` shows the
  latest reason beside each message. Once the cause is fixed, ``replay`` puts each message back
  on the webhook queue with its body and message attributes unchanged (the receipt time and
  request id travel in the attributes, so the processor archives it as the same POST), and
  deletes it from the dead-letter queue only after the send succeeded. Processing is
  idempotent, so a message replayed twice (a crash between send and delete) does no harm.
- **rejected**: a body that is not a webhook at all (not JSON, or JSON without ``entry``) is
  archived and noted as rejected on its first receipt, with the reason, and not retried: no
  retry could make it one. ``list`` shows those of the last days beside the queue.

``purge`` drops both once looked at: it deletes the dead-lettered messages and dismisses the
rejected payloads. Every body stays archived (``wactl raw``) for ``RawPayloadRetentionDays``.

It works by receive, send, delete rather than SQS's ``StartMessageMoveTask``, which the local
emulator lacks; the result is the same.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.items import payload_sha256
from wacloud.webhook.envelope import QueuedWebhook
from wactl.arguments import positive_int
from wactl.errors import WactlError, reason
from wactl.output import Output, plain, shorten, table
from wactl.records import Records
from wactl.summary import PREVIEW_CHARS, summarize
from wactl.target import OUTPUT_TABLE, Target, from_arguments

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        MessageAttributeValueOutputTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
    )

# Received messages stay hidden this long, so one pass over the queue sees each message once;
# what was only looked at is made visible again as soon as the pass ends.
HOLD_SECONDS = 120
DEFAULT_LIST_MAX = 50
DEFAULT_WAIT_SECONDS = 1
# Rejected payloads are looked for over as many days as the dead-letter queue keeps messages.
DEFAULT_REJECTED_DAYS = 14
REASON_CHARS = 60
NO_TABLE_NOTE = "no table named: give --table-name to see failure reasons and rejected payloads"

__all__ = ["DeadLetter", "Listing", "RejectedPayload", "list_dead_letters", "purge", "replay", "summarize"]


class DeadLetterError(WactlError):
    """A queue could not be read or written."""


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, MessageAttributeValueOutputTypeDef]
    receive_count: int
    sent_at_ms: int | None
    trace_header: str | None

    webhook: QueuedWebhook

    @classmethod
    def from_sqs(cls, message: MessageTypeDef) -> DeadLetter:
        system = message.get("Attributes", {})
        sent = system.get("SentTimestamp")
        return cls(
            webhook=QueuedWebhook.from_sqs_message(message),
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            attributes=message.get("MessageAttributes", {}),
            receive_count=int(system.get("ApproximateReceiveCount", "0")),
            sent_at_ms=int(sent) if sent else None,
            trace_header=system.get("AWSTraceHeader"),
        )

    @property
    def size(self) -> int:
        return len(self.body.encode("utf-8"))

    @property
    def summary(self) -> str:
        return summarize(self.webhook)

    @property
    def payload_sha256(self) -> str:
        """The payload's SHA-256 (of the body the pointer names, for a body in the bucket)."""
        return payload_sha256(self.webhook)

    def as_json(self, failure: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "receive_count": self.receive_count,
            "size": self.size,
            "sent_at_ms": self.sent_at_ms,
            "sha256": hashlib.sha256(self.body.encode("utf-8")).hexdigest(),
            "payload_sha256": self.payload_sha256,
            "summary": self.summary,
            "preview": self.body[:PREVIEW_CHARS],
            "attributes": {name: _attribute_text(value) for name, value in sorted(self.attributes.items())},
            "failure": _failure_json(failure),
        }


@dataclass(frozen=True)
class RejectedPayload:
    """A payload the processor archived and rejected (not a webhook), awaiting an operator."""

    item: Mapping[str, Any]

    @property
    def sha256(self) -> str:
        return str(self.item["sha256"])

    @property
    def reason(self) -> str:
        return str(self.item.get("rejected") or "")

    def as_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "received_at_ms": plain(self.item.get("received_at_ms")),
            "size": plain(self.item.get("size")),
            "request_id": self.item.get("request_id"),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Listing:
    queue_url: str
    waiting: int
    in_flight: int
    messages: list[DeadLetter]
    # From the table: the latest failed attempt per payload SHA-256, and the rejected payloads.
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: list[RejectedPayload] = field(default_factory=list)
    table_note: str | None = None
    """Why the table's side (reasons, rejected payloads) is missing, when it is."""


@dataclass
class PurgeReport:
    dry_run: bool
    purged: list[DeadLetter] = field(default_factory=list)
    dismissed: list[RejectedPayload] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    table_note: str | None = None


@dataclass
class ReplayReport:
    source: str
    destination: str
    dry_run: bool
    replayed: list[DeadLetter] = field(default_factory=list)
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    # Sent, but the delete failed: the message is in both queues until someone replays it again.
    not_deleted: list[tuple[DeadLetter, str]] = field(default_factory=list)


# ------------------------------------------------------------------------------ operations
def list_dead_letters(
    sqs: SQSClient,
    queue_url: str,
    *,
    limit: int = DEFAULT_LIST_MAX,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    records: Records | None = None,
    days: list[str] | None = None,
) -> Listing:
    """Count the queue and look at up to ``limit`` messages, leaving every one of them in place;
    with the table's ``records``, also why each failed last and the payloads rejected on ``days``."""
    counts = _queue_attributes(
        sqs, queue_url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    with _held(sqs, queue_url) as hold:
        messages = list(_receive(sqs, queue_url, limit, wait_seconds, hold))
    listing = Listing(
        queue_url=queue_url,
        waiting=int(counts.get("ApproximateNumberOfMessages", "0")),
        in_flight=int(counts.get("ApproximateNumberOfMessagesNotVisible", "0")),
        messages=messages,
        table_note=None if records is not None else NO_TABLE_NOTE,
    )
    if records is None:
        return listing
    try:
        failures = records.failures([letter.payload_sha256 for letter in messages]) if messages else {}
        rejected = [RejectedPayload(item) for item in records.rejected_payloads(days or [])]
    except WactlError as exc:
        # The queue is what this command is for; the table only adds to it.
        return replace(listing, table_note=f"failure reasons and rejected payloads unavailable: {exc}")
    return replace(listing, failures=failures, rejected=rejected)


def purge(
    sqs: SQSClient,
    dead_letter_queue_url: str,
    *,
    records: Records | None = None,
    days: list[str] | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    on_progress: Callable[[str], None] = lambda line: None,
) -> PurgeReport:
    """Delete up to ``limit`` dead-lettered messages (all by default), and dismiss the payloads
    rejected on ``days``. Their bodies stay archived."""
    report = PurgeReport(dry_run=dry_run, table_note=None if records is not None else NO_TABLE_NOTE)
    with _held(sqs, dead_letter_queue_url) as hold:
        for letter in _receive(sqs, dead_letter_queue_url, limit, wait_seconds, hold):
            if not dry_run:
                try:
                    sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=letter.receipt_handle)
                except (BotoCoreError, ClientError) as exc:
                    report.failed.append((letter.message_id, reason(exc)))
                    on_progress(f"failed        {letter.message_id} {reason(exc)}")
                    continue
                hold.pop(letter.message_id)
            report.purged.append(letter)
            on_progress(f"{'would purge' if dry_run else 'purged':<13} {letter.message_id} {letter.summary}")
    if records is None:
        return report
    for payload in [RejectedPayload(item) for item in records.rejected_payloads(days or [])]:
        if not dry_run:
            try:
                records.dismiss_rejected(payload.sha256)
            except WactlError as exc:
                report.failed.append((payload.sha256, str(exc)))
                on_progress(f"failed        {payload.sha256} {exc}")
                continue
        report.dismissed.append(payload)
        on_progress(f"{'would dismiss' if dry_run else 'dismissed':<13} {payload.sha256} {payload.reason}")
    return report


def replay(
    sqs: SQSClient,
    dead_letter_queue_url: str,
    queue_url: str,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    on_progress: Callable[[str, DeadLetter], None] = lambda outcome, letter: None,
) -> ReplayReport:
    """Move up to ``limit`` messages (all by default) from the dead-letter queue to ``queue_url``.

    Each message is sent first and deleted from the dead-letter queue only once the send
    succeeded; a message whose send failed stays where it was. ``on_progress`` hears
    ``"replayed"``, ``"would replay"``, ``"failed: ..."`` or ``"not deleted: ..."`` per message.
    """
    _queue_attributes(sqs, queue_url, ["QueueArn"])  # fail before touching anything
    report = ReplayReport(source=dead_letter_queue_url, destination=queue_url, dry_run=dry_run)
    with _held(sqs, dead_letter_queue_url) as hold:
        for letter in _receive(sqs, dead_letter_queue_url, limit, wait_seconds, hold):
            if dry_run:
                report.replayed.append(letter)
                on_progress("would replay", letter)
                continue
            try:
                _send(sqs, queue_url, letter)
            except (BotoCoreError, ClientError) as exc:
                report.failed.append((letter, reason(exc)))
                on_progress(f"failed: {reason(exc)}", letter)
                continue  # still held: released when the pass ends, so it stays dead-lettered
            hold.pop(letter.message_id)
            try:
                sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=letter.receipt_handle)
            except (BotoCoreError, ClientError) as exc:
                report.not_deleted.append((letter, reason(exc)))
                on_progress(f"not deleted: {reason(exc)}", letter)
                continue
            report.replayed.append(letter)
            on_progress("replayed", letter)
    return report


# ------------------------------------------------------------------------------ command line
def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="webhooks the processor could not store: list them with why, replay them, purge them",
        description="Webhooks the processor failed 5 times wait in the dead-letter queue (14 days); "
        "bodies that are not webhooks are rejected at once, with the reason, and not retried.",
    )
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="count the dead-lettered webhooks and show them, with why; and the rejected payloads",
        description="Count the dead-letter queue and show a line per message with the latest reason "
        "the processor noted, then the payloads rejected in the last days. Looking at a message "
        "adds one to its receive count; it stays in the queue.",
    )
    listing.add_argument(
        "--max",
        type=positive_int,
        default=DEFAULT_LIST_MAX,
        metavar="N",
        help=f"show at most N messages (default {DEFAULT_LIST_MAX})",
    )
    _add_wait(listing)
    _add_days(listing)
    listing.set_defaults(handler=_list_command)

    replaying = actions.add_parser(
        "replay",
        parents=[common],
        help="move dead-lettered webhooks back to the webhook queue",
        description="Send each dead-lettered webhook back to the webhook queue, body and attributes "
        "unchanged, then delete it from the dead-letter queue. Fix the cause first. (A rejected "
        "payload goes back with wactl raw replay SHA256, once the processor would accept it.)",
    )
    replaying.add_argument(
        "--max", type=positive_int, default=None, metavar="N", help="replay at most N (default all)"
    )
    replaying.add_argument("--dry-run", action="store_true", help="show what would be replayed, move nothing")
    _add_wait(replaying)
    replaying.set_defaults(handler=_replay_command)

    purging = actions.add_parser(
        "purge",
        parents=[common],
        help="delete the dead-lettered webhooks and dismiss the rejected payloads",
        description="Delete each dead-lettered webhook from the dead-letter queue and dismiss the "
        "payloads rejected in the last days (they leave wactl dlq list). Every body stays archived: "
        "wactl raw list and replay still find it. Look first: --dry-run.",
    )
    purging.add_argument(
        "--max", type=positive_int, default=None, metavar="N", help="delete at most N messages (default all)"
    )
    purging.add_argument("--dry-run", action="store_true", help="show what would be purged, change nothing")
    _add_wait(purging)
    _add_days(purging)
    purging.set_defaults(handler=_purge_command)


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=int,
        choices=range(21),
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"long-poll wait per receive, 0-20 (default {DEFAULT_WAIT_SECONDS}); 0 may miss messages",
    )


def _add_days(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days",
        type=positive_int,
        default=DEFAULT_REJECTED_DAYS,
        metavar="N",
        help=f"rejected payloads received in the last N days, UTC (default {DEFAULT_REJECTED_DAYS})",
    )


def _list_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args)
    listing = list_dead_letters(
        target.sqs(),
        target.dead_letter_queue_url,
        limit=args.max,
        wait_seconds=args.wait,
        records=_records(target),
        days=_last_days(args.days),
    )
    document = {
        "target": target.description,
        "queue_url": listing.queue_url,
        "waiting": listing.waiting,
        "in_flight": listing.in_flight,
        "messages": [
            letter.as_json(listing.failures.get(letter.payload_sha256)) for letter in listing.messages
        ],
        "rejected": [payload.as_json() for payload in listing.rejected],
        "table_note": listing.table_note,
    }
    lines = [f"Dead-letter queue {listing.queue_url} ({target.description})"]
    if not listing.messages and listing.waiting == 0:
        if listing.in_flight:
            lines.append(f"{listing.in_flight} in flight.")
        else:
            lines.append("Empty: nothing to replay." if not listing.rejected else "Empty.")
    else:
        lines.append(
            f"{listing.waiting} waiting, {listing.in_flight} in flight; showing {len(listing.messages)}."
        )
        rows = [
            [
                letter.message_id,
                str(letter.receive_count),
                f"{letter.size:,}",
                _utc(letter.sent_at_ms),
                _reason_text(listing.failures.get(letter.payload_sha256)),
                letter.summary,
            ]
            for letter in listing.messages
        ]
        lines += table(["MESSAGE ID", "RECEIVES", "BYTES", "QUEUED (UTC)", "LAST FAILURE", "SUMMARY"], rows)
        lines.append("Once the cause is fixed: wactl dlq replay [--max N] [--dry-run]")
    if listing.rejected:
        lines.append(
            f"Rejected payloads (not webhooks: archived, never retried), last {args.days} days: "
            f"{len(listing.rejected)}"
        )
        rows = [
            [
                _utc(int(payload.item["received_at_ms"])),
                payload.sha256,
                f"{int(payload.item.get('size', 0)):,}",
                payload.reason,
            ]
            for payload in listing.rejected
        ]
        lines += table(["RECEIVED (UTC)", "SHA256", "BYTES", "REASON"], rows)
        lines.append(
            "Look: wactl raw show SHA256. Drop: wactl dlq purge. After a fix: wactl raw replay SHA256."
        )
    out.result(document, lines)
    if listing.table_note:
        print(f"wactl: note: {listing.table_note}", file=out.stderr)
    return 0


def _purge_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args)
    report = purge(
        target.sqs(),
        target.dead_letter_queue_url,
        records=_records(target),
        days=_last_days(args.days),
        limit=args.max,
        dry_run=args.dry_run,
        wait_seconds=args.wait,
        on_progress=out.progress,
    )
    document = {
        "target": target.description,
        "dry_run": report.dry_run,
        "purged": [letter.message_id for letter in report.purged],
        "dismissed": [payload.sha256 for payload in report.dismissed],
        "failed": [{"id": identifier, "error": error} for identifier, error in report.failed],
        "table_note": report.table_note,
    }
    verbs = ("Would purge", "would dismiss") if report.dry_run else ("Purged", "dismissed")
    lines = [
        f"{verbs[0]} {len(report.purged)} dead-lettered and {verbs[1]} {len(report.dismissed)} rejected "
        f"({target.description}); their bodies stay archived (wactl raw)."
    ]
    if report.failed:
        lines.append(f"{len(report.failed)} could not be purged (listed above).")
    out.result(document, lines)
    if report.table_note:
        print(f"wactl: note: {report.table_note}", file=out.stderr)
    return 1 if report.failed else 0


def _replay_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args)
    done = 0

    def progress(outcome: str, letter: DeadLetter) -> None:
        nonlocal done
        done += 1
        out.progress(f"{done:>5} {outcome:<12} {letter.message_id} ({letter.size:,} bytes) {letter.summary}")

    report = replay(
        target.sqs(),
        target.dead_letter_queue_url,
        target.webhook_queue_url,
        limit=args.max,
        dry_run=args.dry_run,
        wait_seconds=args.wait,
        on_progress=progress,
    )
    document = {
        "target": target.description,
        "source": report.source,
        "destination": report.destination,
        "dry_run": report.dry_run,
        "replayed": [letter.message_id for letter in report.replayed],
        "failed": [{"message_id": letter.message_id, "error": error} for letter, error in report.failed],
        "not_deleted": [
            {"message_id": letter.message_id, "error": error} for letter, error in report.not_deleted
        ],
    }
    verb = "Would replay" if report.dry_run else "Replayed"
    lines = [
        f"{verb} {len(report.replayed)} from {report.source} to {report.destination} ({target.description})."
    ]
    if report.failed:
        lines.append(f"{len(report.failed)} could not be sent and stay in the dead-letter queue.")
    if report.not_deleted:
        lines.append(
            f"{len(report.not_deleted)} were sent but not deleted: they reappear in the dead-letter queue; "
            "replaying them again is harmless."
        )
    out.result(document, lines)
    return 1 if report.failed or report.not_deleted else 0


# ------------------------------------------------------------------------------ helpers
@contextmanager
def _held(sqs: SQSClient, queue_url: str) -> Iterator[dict[str, str]]:
    """Receipt handles of messages received and not deleted; made visible again on the way out,
    also after an error or Ctrl-C, so nothing stays hidden for HOLD_SECONDS."""
    hold: dict[str, str] = {}
    try:
        yield hold
    finally:
        handles = list(hold.items())
        for start in range(0, len(handles), 10):
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, (_, handle) in enumerate(handles[start : start + 10])
            ]
            # On failure they reappear by themselves after HOLD_SECONDS.
            with suppress(BotoCoreError, ClientError):
                sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def _receive(
    sqs: SQSClient, queue_url: str, limit: int | None, wait_seconds: int, hold: dict[str, str]
) -> Iterator[DeadLetter]:
    """Each message of the queue once, up to ``limit``, until a receive comes back empty."""
    seen: set[str] = set()
    while limit is None or len(seen) < limit:
        wanted = 10 if limit is None else min(10, limit - len(seen))
        try:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=HOLD_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except (BotoCoreError, ClientError) as exc:
            raise DeadLetterError(f"cannot receive from {queue_url} ({reason(exc)})") from exc
        fresh = [message for message in batch if message["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            letter = DeadLetter.from_sqs(message)
            seen.add(letter.message_id)
            hold[letter.message_id] = letter.receipt_handle
            yield letter


def _send(sqs: SQSClient, queue_url: str, letter: DeadLetter) -> None:
    attributes: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in letter.attributes.items():
        copy: MessageAttributeValueTypeDef = {"DataType": value["DataType"]}
        if "StringValue" in value:
            copy["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            copy["BinaryValue"] = value["BinaryValue"]
        attributes[name] = copy
    request: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MessageBody": letter.body,
        "MessageAttributes": attributes,
    }
    if letter.trace_header:
        request["MessageSystemAttributes"] = {
            "AWSTraceHeader": {"DataType": "String", "StringValue": letter.trace_header}
        }
    sqs.send_message(**request)


def _queue_attributes(sqs: SQSClient, queue_url: str, names: list[Any]) -> dict[str, str]:
    try:
        answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    except (BotoCoreError, ClientError) as exc:
        raise DeadLetterError(f"cannot read queue {queue_url} ({reason(exc)})") from exc
    return {str(name): value for name, value in answer.get("Attributes", {}).items()}


def _attribute_text(value: MessageAttributeValueOutputTypeDef | None) -> str | None:
    if value is None:
        return None
    if "StringValue" in value:
        return value["StringValue"]
    binary = value.get("BinaryValue")
    return None if binary is None else f"<{len(binary)} bytes>"


def _records(target: Target) -> Records | None:
    """The table's records when the target names the table (a stack, --local, --table-name)."""
    return Records(target.table()) if target.resources.get(OUTPUT_TABLE) else None


def _last_days(days: int) -> list[str]:
    now = time.time()
    return [time.strftime("%Y-%m-%d", time.gmtime(now - back * 86_400)) for back in range(days)]


def _reason_text(failure: Mapping[str, Any] | None) -> str:
    return "-" if failure is None else shorten(str(failure.get("reason", "")), REASON_CHARS)


def _failure_json(failure: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if failure is None:
        return None
    return {
        "reason": failure.get("reason"),
        "error": failure.get("error"),
        "failed_at": plain(failure.get("failed_at")),
        "receive_count": plain(failure.get("receive_count")),
    }


def _utc(ms: int | None) -> str:
    return "-" if ms is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))
