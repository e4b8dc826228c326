"""Event shapes of the AWS services that invoke the functions, and the samples in ``events/``."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from walocal.template import PROJECT_ROOT

EVENTS_DIR = PROJECT_ROOT / "events"

# API Gateway HTTP APIs pass these bodies as text; anything else (or no content type) is base64.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def load_event(name: str) -> Any:
    """A sample event from ``events/`` by relative path, e.g. ``load_event("apigw/webhook_post.json")``."""
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def event_path(name: str) -> Path:
    return EVENTS_DIR / name


def http_api_event(
    *,
    method: str,
    path: str,
    route_key: str,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    query: str = "",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event, as the service builds it."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    content_type = merged.get("content-type", "").lower()
    as_text = bool(content_type) and content_type.startswith(_TEXT_TYPES)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode().rstrip("="),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not as_text,
    }
    if cookies:
        event["cookies"] = cookies
    params = _query_parameters(query)
    if params:
        event["queryStringParameters"] = params
    if body:
        event["body"] = body.decode("utf-8") if as_text else base64.b64encode(body).decode("ascii")
    return event


def _query_parameters(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        # HTTP APIs join repeated parameters with commas.
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """The Lambda SQS event record for a message as ``ReceiveMessage`` returned it."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
            ),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
