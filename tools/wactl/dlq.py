"""``wactl dlq``: look at the dead-letter queue, and replay its messages into the webhook queue.

A webhook lands in the dead-letter queue after the processor failed it ``maxReceiveCount`` times
(see template.yaml). Once the cause is fixed, ``replay`` puts each message back on the webhook
queue with its body and message attributes unchanged (the receipt time and request id travel in
the attributes, so the processor archives it as the same POST), and deletes it from the
dead-letter queue only after the send succeeded. Processing is idempotent, so a message replayed
twice (a crash between send and delete) does no harm.

It works by receive, send, delete rather than SQS's ``StartMessageMoveTask``, which the local
emulator lacks; the result is the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.webhook.envelope import QueuedWebhook
from wactl.arguments import positive_int
from wactl.errors import WactlError, reason
from wactl.output import Output, table
from wactl.target import from_arguments

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
PREVIEW_CHARS = 80


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

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "receive_count": self.receive_count,
            "size": self.size,
            "sent_at_ms": self.sent_at_ms,
            "sha256": hashlib.sha256(self.body.encode("utf-8")).hexdigest(),
            "summary": self.summary,
            "preview": self.body[:PREVIEW_CHARS],
            "attributes": {name: _attribute_text(value) for name, value in sorted(self.attributes.items())},
        }


@dataclass(frozen=True)
class Listing:
    queue_url: str
    waiting: int
    in_flight: int
    messages: list[DeadLetter]


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
    sqs: SQSClient, queue_url: str, *, limit: int = DEFAULT_LIST_MAX, wait_seconds: int = DEFAULT_WAIT_SECONDS
) -> Listing:
    """Count the queue and look at up to ``limit`` messages, leaving every one of them in place."""
    counts = _queue_attributes(
        sqs, queue_url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    with _held(sqs, queue_url) as hold:
        messages = list(_receive(sqs, queue_url, limit, wait_seconds, hold))
    return Listing(
        queue_url=queue_url,
        waiting=int(counts.get("ApproximateNumberOfMessages", "0")),
        in_flight=int(counts.get("ApproximateNumberOfMessagesNotVisible", "0")),
        messages=messages,
    )


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


def summarize(webhook: QueuedWebhook) -> str:
    """What a queued webhook holds, in a few words: enough to tell dead letters apart."""
    body = webhook.body
    if webhook.in_bucket:
        try:
            pointer = webhook.pointer()
        except (ValueError, KeyError, TypeError):
            return f"unreadable payload pointer: {_preview(body)}"
        return f"payload in s3://{pointer.bucket}/{pointer.key} ({pointer.size:,} bytes)"
    try:
        data = json.loads(body)
    except ValueError:
        return f"not JSON: {_preview(body)}"
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        return f"not a WhatsApp webhook: {_preview(body)}"
    messages: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    malformed = False
    entries = data.get("entry")
    if not isinstance(entries, list):
        return f"webhook with a malformed entry: {_preview(body)}"
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            malformed = True
            continue
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                malformed = True
                continue
            if change.get("field") != "messages":
                fields[str(change.get("field"))] += 1
                continue
            messages.update(
                str(m.get("type")) if isinstance(m, dict) else "?" for m in value.get("messages") or []
            )
            statuses.update(
                str(s.get("status")) if isinstance(s, dict) else "?" for s in value.get("statuses") or []
            )
            if value.get("errors"):
                fields["errors"] += 1
    parts = [
        phrase
        for phrase in (
            _counted(messages, "message"),
            _counted(statuses, "status"),
            _counted(fields, "other field"),
        )
        if phrase
    ]
    if malformed:
        parts.append("malformed changes")
    return "webhook: " + (", ".join(parts) if parts else "no updates")


# ------------------------------------------------------------------------------ command line
def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="dead-lettered webhooks: list them, replay them",
        description="Webhooks the processor failed 5 times wait in the dead-letter queue (14 days).",
    )
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="count the dead-lettered webhooks and show them",
        description="Count the dead-letter queue and show a line per message. Looking at a message "
        "adds one to its receive count; it stays in the queue.",
    )
    listing.add_argument(
        "--max",
        type=positive_int,
        default=DEFAULT_LIST_MAX,
        metavar="N",
        help=f"show at most N (default {DEFAULT_LIST_MAX})",
    )
    _add_wait(listing)
    listing.set_defaults(handler=_list_command)

    replaying = actions.add_parser(
        "replay",
        parents=[common],
        help="move dead-lettered webhooks back to the webhook queue",
        description="Send each dead-lettered webhook back to the webhook queue, body and attributes "
        "unchanged, then delete it from the dead-letter queue. Fix the cause first.",
    )
    replaying.add_argument(
        "--max", type=positive_int, default=None, metavar="N", help="replay at most N (default all)"
    )
    replaying.add_argument("--dry-run", action="store_true", help="show what would be replayed, move nothing")
    _add_wait(replaying)
    replaying.set_defaults(handler=_replay_command)


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=int,
        choices=range(21),
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"long-poll wait per receive, 0-20 (default {DEFAULT_WAIT_SECONDS}); 0 may miss messages",
    )


def _list_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args)
    listing = list_dead_letters(
        target.sqs(), target.dead_letter_queue_url, limit=args.max, wait_seconds=args.wait
    )
    document = {
        "target": target.description,
        "queue_url": listing.queue_url,
        "waiting": listing.waiting,
        "in_flight": listing.in_flight,
        "messages": [letter.as_json() for letter in listing.messages],
    }
    lines = [f"Dead-letter queue {listing.queue_url} ({target.description})"]
    if not listing.messages and listing.waiting == 0:
        lines.append(
            "Empty: nothing to replay." if listing.in_flight == 0 else f"{listing.in_flight} in flight."
        )
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
                letter.summary,
            ]
            for letter in listing.messages
        ]
        lines += table(["MESSAGE ID", "RECEIVES", "BYTES", "QUEUED (UTC)", "SUMMARY"], rows)
        lines.append("Once the cause is fixed: wactl dlq replay [--max N] [--dry-run]")
    out.result(document, lines)
    return 0


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


def _counted(counter: Counter[str], noun: str) -> str:
    total = sum(counter.values())
    if not total:
        return ""
    kinds = ", ".join(name if count == 1 else f"{name} x{count}" for name, count in sorted(counter.items()))
    plural = noun if total == 1 else ("statuses" if noun == "status" else f"{noun}s")
    return f"{total} {plural} ({kinds})"


def _preview(body: str) -> str:
    text = " ".join(body.split())
    return repr(text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "...")


def _utc(ms: int | None) -> str:
    return "-" if ms is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))
