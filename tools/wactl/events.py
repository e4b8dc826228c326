"""``wactl events``: the events the stack publishes on its bus (docs/events.md).

- ``schema [DETAIL_TYPE]``: the JSON Schema of each event's ``detail``, from the models the
  publisher builds them with;
- ``tail``: subscribes a temporary queue to the bus (a rule for source ``whatsapp.cloud``) and
  prints the events as they are published, until ``--count`` events or ``--seconds`` have
  passed, or Ctrl-C; the rule and the queue are removed on the way out;
- ``failed`` and ``replay``: the table changes the publisher gave up on (``wactl.event_failures``).
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.events.models import DETAILS, SOURCE
from wactl import event_failures
from wactl.arguments import positive_int
from wactl.errors import WactlError, reason
from wactl.output import Output
from wactl.target import OUTPUT_EVENT_BUS, Target, from_arguments


class EventsError(WactlError):
    """The bus could not be subscribed to or read."""


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    events = commands.add_parser(
        "events", help="the events the stack publishes", description="The events the stack publishes."
    )
    actions = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    schema = actions.add_parser(
        "schema",
        help="the JSON Schema of each event's detail",
        description="Prints the JSON Schema of the detail of each event (or of one detail-type).",
    )
    schema.add_argument(
        "detail_type", nargs="?", metavar="DETAIL_TYPE", help='e.g. "WhatsApp Message Received"'
    )
    schema.set_defaults(handler=_schema_command, json=False)
    tail = actions.add_parser(
        "tail",
        parents=[common],
        help="print events as they are published",
        description="Subscribes a temporary SQS queue to the stack's event bus and prints each event "
        "published there. Needs events:PutRule, PutTargets, RemoveTargets, DeleteRule on the bus and "
        "sqs:CreateQueue, SetQueueAttributes, ReceiveMessage, DeleteMessage, DeleteQueue.",
    )
    tail.add_argument("--count", type=positive_int, metavar="N", help="stop after N events")
    tail.add_argument("--seconds", type=positive_int, metavar="S", help="stop after S seconds")
    tail.set_defaults(handler=_tail_command)
    failed = actions.add_parser(
        "failed",
        parents=[common],
        help="the batches of table changes the publisher gave up on",
        description="Lists the failure records on the publisher's OnFailure queue: which stream "
        "range could not be published, and when its first change was stored.",
    )
    failed.add_argument("--max", type=positive_int, default=50, metavar="N", help="at most N records")
    failed.set_defaults(handler=_failed_command)
    replay = actions.add_parser(
        "replay",
        parents=[common],
        help="publish the events of the batches the publisher gave up on",
        description="Reads each failed range back from the table's stream (kept 24 hours), publishes "
        "its events with the publisher's code (same event ids) and deletes the failure record.",
    )
    replay.add_argument("--max", type=positive_int, default=50, metavar="N", help="at most N records")
    replay.add_argument(
        "--drop-expired", action="store_true", help="delete records whose changes the stream no longer has"
    )
    replay.set_defaults(handler=_replay_command)


def schemas() -> dict[str, dict[str, Any]]:
    return {model.detail_type: model.model_json_schema() for model in DETAILS}


def _schema_command(args: argparse.Namespace, out: Output) -> int:
    found = schemas()
    if args.detail_type is not None:
        if args.detail_type not in found:
            raise EventsError(f"no event {args.detail_type!r}; the events are: {', '.join(found)}")
        found = {args.detail_type: found[args.detail_type]}
    out.result(found, [json.dumps(found, indent=2)])
    return 0


def _failed_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[])
    queue = event_failures.FailureQueue(target)
    batches = queue.hold(args.max)
    queue.release(batches)
    lines = [
        f"{batch.first_arrival}  {batch.size} changes  shard {batch.shard_id}  {batch.start}..{batch.end}  "
        f"{batch.condition}"
        for batch in batches
    ] or ["no failed batches"]
    out.result({"target": target.description, "failed": [batch.as_json() for batch in batches]}, lines)
    return 0


def _replay_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_EVENT_BUS])
    queue = event_failures.FailureQueue(target)
    batches = queue.hold(args.max)
    outcomes = {"published": 0, "expired": 0, "failed": 0}
    kept: list[event_failures.FailedBatch] = []
    for batch in batches:
        records = event_failures.stream_records(target, batch)
        if records is None:
            outcomes["expired"] += 1
            out.progress(
                f"{batch.start}..{batch.end}: the stream no longer has these changes (over 24 hours)"
            )
            if args.drop_expired:
                queue.forget(batch)
            else:
                kept.append(batch)
            continue
        if event_failures.republish(target, records):
            outcomes["published"] += 1
            queue.forget(batch)
        else:
            outcomes["failed"] += 1
            kept.append(batch)
    queue.release(kept)
    out.result(
        {"target": target.description, **outcomes},
        [
            f"{outcomes['published']} batches published, {outcomes['expired']} expired, "
            f"{outcomes['failed']} failed"
        ],
    )
    return 1 if outcomes["failed"] else 0


def _tail_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_EVENT_BUS])
    deadline = time.monotonic() + args.seconds if args.seconds else None
    shown = 0
    with _subscription(target) as (sqs, url):
        out.progress(f"listening on {target.resource(OUTPUT_EVENT_BUS)} ({target.description}); Ctrl-C stops")
        try:
            while args.count is None or shown < args.count:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                for message in answer.get("Messages", []):
                    event = json.loads(message["Body"])
                    out.result(event, [_line(event)])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    shown += 1
        except (BotoCoreError, ClientError) as exc:
            raise EventsError(f"cannot read the subscription queue ({reason(exc)})") from exc
    return 0


@contextmanager
def _subscription(target: Target) -> Iterator[tuple[Any, str]]:
    """A queue that gets every event of the project's source on the bus, removed afterwards."""
    bus = target.resource(OUTPUT_EVENT_BUS)
    events, sqs = target.client("events"), target.client("sqs")
    name = f"wactl-tail-{secrets.token_hex(4)}"
    url: str | None = None
    rule_made = False
    try:
        url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule_arn = events.put_rule(
            Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [SOURCE]}), State="ENABLED"
        )["RuleArn"]
        rule_made = True
        # EventBridge may deliver to the queue only for this rule.
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "wactl", "Arn": queue_arn}])
    except (BotoCoreError, ClientError) as exc:
        _remove(events, sqs, bus=bus, name=name, url=url, rule_made=rule_made)
        raise EventsError(f"cannot subscribe to {bus} ({reason(exc)})") from exc
    try:
        yield sqs, url
    finally:
        _remove(events, sqs, bus=bus, name=name, url=url, rule_made=rule_made)


def _remove(events: Any, sqs: Any, *, bus: str, name: str, url: str | None, rule_made: bool) -> None:
    with suppress(BotoCoreError, ClientError):
        if rule_made:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=["wactl"])
            events.delete_rule(Name=name, EventBusName=bus)
    with suppress(BotoCoreError, ClientError):
        if url is not None:
            sqs.delete_queue(QueueUrl=url)


def _line(event: dict[str, Any]) -> str:
    detail = event.get("detail", {})
    what = detail.get("wamid") or detail.get("field") or detail.get("sha256") or detail.get("change") or ""
    extra = detail.get("status") or detail.get("type") or detail.get("reason") or ""
    text = detail.get("text")
    parts = [
        str(event.get("time", "")),
        str(event.get("detail-type", "")),
        str(detail.get("wa_id") or "-"),
        what,
        extra,
    ]
    if text:
        parts.append(json.dumps(text, ensure_ascii=False))
    return "  ".join(part for part in parts if part)
