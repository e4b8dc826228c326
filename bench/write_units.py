"""DynamoDB write units per inbound text, image and status, first delivered and delivered again.

The processor runs through its handler on the template's table (moto); the units are counted from
its calls by DynamoDB's billing rules (bench/capacity.py). Floors: an inbound message needs one
item of under 1 KB (one unit); a status needs its own record and the message's current status
(two). Meta delivers a POST again when it is not answered in time: a redelivery is measured on
the same table, after the first.
"""

from __future__ import annotations

import json

import boto3

from bench.figures import Figure, figure
from bench.harness import emulated_stack, sqs_event, webhook_body
from bench.metering import Meter
from wacloud.table.items import OutboundRecord
from wacloud.table.store import ConversationStore

CASES = (  # (figure, fixture, floor, goal)
    ("text", "message_text", 1, 1.5),
    ("image", "message_image", 1, 1.5),
    ("status", "status_delivered_business_initiated", 2, 2),
)


def _record_outbound(store: ConversationStore, body: bytes) -> None:
    """The sender's record of the message a status is about, as it is before any status."""
    status = json.loads(body)["entry"][0]["changes"][0]["value"]["statuses"][0]
    request = {"messaging_product": "whatsapp", "to": status["recipient_id"], "type": "template"}
    request["template"] = {"name": "order_update", "language": {"code": "en_US"}}
    store.record_outbound(
        OutboundRecord(
            wamid=status["id"],
            wa_id=status["recipient_id"],
            kind="template",
            timestamp=int(status["timestamp"]) - 2,
            accepted_status="accepted",
            phone_number_id="123456789012345",
            request=request,
            idempotency_key="bench",
        )
    )


def measure() -> dict[str, tuple[float, float]]:
    """Write units of each case: (first delivery, redelivery)."""
    found = {}
    with emulated_stack() as (stack, load):
        table_name = stack.table_names["MessagesTable"]
        meter = Meter(table_name)
        session = boto3.DEFAULT_SESSION
        assert session is not None
        store = ConversationStore(boto3.resource("dynamodb", region_name="us-east-1").Table(table_name))
        with meter.installed(session):
            processor = load("ProcessorFunction")
            for label, fixture, _, _ in CASES:
                body = webhook_body(fixture)
                if label == "status":
                    _record_outbound(store, body)
                units = []
                for delivery in range(2):
                    meter.reset()
                    answer = processor(sqs_event(body, received_at_ms=1763705500000 + delivery))
                    assert answer == {"batchItemFailures": []}, answer
                    units.append(meter.reset().write_units)
                found[label] = (units[0], units[1])
    return found


def figures() -> list[Figure]:
    measured = measure()
    results = []
    for label, _, floor, goal in CASES:
        first, again = measured[label]
        for when, value in (("first delivery", first), ("redelivery", again)):
            results.append(
                figure(
                    f"DynamoDB write units per inbound {label}, {when}",
                    "WU",
                    value,
                    floor,
                    check="value<=",
                    target=goal,
                )
            )
    return results


def assumptions() -> list[str]:
    return [
        "write units: counted from the processor's calls on the template's table (moto) by DynamoDB's "
        "size rules (1 WU per KB of the larger of the item before and after, index entries by projection, "
        "a failed condition still billed)"
    ]
