"""Processor floor: one item per inbound message, the batch's items in one BatchWriteItem call
per 25 (a redelivery is the same put again)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

dynamodb: Any = boto3.client("dynamodb")  # plain dicts in, plain dicts out
table = os.environ["TABLE_NAME"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    items = [
        {
            "pk": {"S": f"CONTACT#{message['from']}"},
            "sk": {"S": f"MSG#{int(message['timestamp']):010d}#{message['id']}"},
            "message": {"S": json.dumps(message)},
        }
        for record in event["Records"]
        for entry in json.loads(record["body"])["entry"]
        for change in entry["changes"]
        for message in change["value"].get("messages", [])
    ]
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        while requests:
            answer = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])
    return {"batchItemFailures": []}
