"""What the sender's tests feed it (SQS batches, EventBridge events) and read back from its table."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from support.aws import REGION
from support.contacts import SeedingStore
from wacloud.table.keys import day_of
from walocal.events import load_event, sqs_record
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_PHONE_NUMBER_ID
from walocal.simulator import GraphApiSimulator, SimulatorConfig

TO = "16505551234"
OUTBOUND_ARN = "arn:aws:sqs:us-east-1:123456789012:whatsapp-cloud-OutboundQueue"


def store(stack: LocalStack) -> SeedingStore:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    return SeedingStore(table)


def open_window(stack: LocalStack, wa_id: str = TO) -> None:
    """The contact wrote a minute ago: free-form messages may be sent for the next 24 hours."""
    store(stack).record_inbound(wa_id, int(time.time()) - 60, f"wamid.IN{wa_id}", "Maria")


@contextmanager
def simulated_meta(contact: str = TO, **config: Any) -> Iterator[GraphApiSimulator]:
    """The Graph API simulator the local sender reaches (the local token and number; no webhooks
    back, no read receipts), ``contact``'s 24-hour window open at Meta: they wrote."""
    settings = {
        "port": 0,
        "access_token": LOCAL_ACCESS_TOKEN,
        "phone_number_id": LOCAL_PHONE_NUMBER_ID,
        "webhook_url": "http://127.0.0.1:9/webhook",
        "webhook_retries": 0,
        "auto_read": False,
        **config,
    }
    simulator_config = SimulatorConfig(**settings)
    with GraphApiSimulator(simulator_config) as running:
        running.state.add_inbound(
            contact, {"id": "wamid.IN", "from": contact, "message": {}, "time": simulator_config.clock()}
        )
        yield running


def sender_to(
    load_function: Callable[..., LocalFunction], simulator: GraphApiSimulator, stack: LocalStack, **env: str
) -> LocalFunction:
    """The sender function sending to ``simulator``, unpaced, the contact's window open in its table."""
    open_window(stack)
    return load_function("SenderFunction", GRAPH_API_URL=simulator.url, SEND_RATE_PER_SECOND="10000", **env)


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
