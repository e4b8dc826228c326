"""Reading the emulated table and queues: the whole state, for comparisons."""

from __future__ import annotations

from typing import Any

import boto3

from walocal.provision import LocalStack

REGION = "us-east-1"


def all_items(table: Any) -> list[dict[str, Any]]:
    """Every item of a table resource, page after page (a scan stops a page at 1 MB)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def table_items(stack: LocalStack) -> list[dict[str, Any]]:
    """Every item of the table, sorted by key: the whole state, for comparisons."""
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    return sorted(all_items(table), key=lambda item: (item["pk"], item["sk"]))


def queue_messages(stack: LocalStack, logical_id: str = "WebhookQueue") -> list[dict[str, Any]]:
    """Receive (and leave invisible) everything on a queue, with attributes."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=stack.queue_urls[logical_id],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(dict(message) for message in batch)
