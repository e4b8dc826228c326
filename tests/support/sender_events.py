"""What the sender's tests feed it (SQS batches, EventBridge events) and read back from its table."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from support.aws import REGION
from support.contacts import SeedingStore
from wacloud.table.keys import day_of
from walocal.events import load_event, sqs_record
from walocal.provision import LocalStack

TO = "16505551234"
OUTBOUND_ARN = "arn:aws:sqs:us-east-1:123456789012:whatsapp-cloud-OutboundQueue"


def store(stack: LocalStack) -> SeedingStore:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    return SeedingStore(table)


def open_window(stack: LocalStack, wa_id: str = TO) -> None:
    """The contact wrote a minute ago: free-form messages may be sent for the next 24 hours."""
    store(stack).record_inbound(wa_id, int(time.time()) - 60, f"wamid.IN{wa_id}", "Maria")


def sqs_event(*bodies: Any, ids: list[str] | None = None) -> dict[str, Any]:
    """A batch of the outbound queue as Lambda delivers it, one record per body."""
    ids = ids or [f"msg-{index}" for index in range(len(bodies))]
    messages = [
        {
            "MessageId": message_id,
            "ReceiptHandle": f"rh-{message_id}",
            "Body": body if isinstance(body, str) else json.dumps(body),
        }
        for message_id, body in zip(ids, bodies, strict=True)
    ]
    return {"Records": [sqs_record(message, OUTBOUND_ARN) for message in messages]}


def eventbridge_event(detail: Any, **fields: Any) -> dict[str, Any]:
    """The sample EventBridge send request with ``detail`` (and any top-level ``fields``) replaced."""
    return {**load_event("sender/sources/eventbridge_send_request.json"), "detail": detail, **fields}


def failed_sends(stack: LocalStack) -> list[dict[str, Any]]:
    """Today's sends that failed before Meta gave them a wamid, from the failed-messages index."""
    return [item for item in store(stack).failed_messages(day_of(time.time())) if "send_id" in item]


def failed_send_ids(stack: LocalStack) -> list[str]:
    return [str(item["send_id"]) for item in failed_sends(stack)]


def first_error(failed: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(failed["status_errors"])[0]
    return error


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening while the block runs: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
