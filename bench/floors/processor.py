"""Processor floor: one item per inbound message, written once (a redelivery is the same put)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

dynamodb = boto3.client("dynamodb")
table = os.environ["TABLE_NAME"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for record in event["Records"]:
        for entry in json.loads(record["body"])["entry"]:
            for change in entry["changes"]:
                for message in change["value"].get("messages", []):
                    dynamodb.put_item(
                        TableName=table,
                        Item={
                            "pk": {"S": f"CONTACT#{message['from']}"},
                            "sk": {"S": f"MSG#{int(message['timestamp']):010d}#{message['id']}"},
                            "message": {"S": json.dumps(message)},
                        },
                    )
    return {"batchItemFailures": []}
