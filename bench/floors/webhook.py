"""Webhook floor: check the POST's signature, queue its body; nothing else."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import boto3
from botocore.config import Config

# The least a queueing call can cost: the request is ours, so botocore need not validate it, and a
# fixed User-Agent spares it rebuilding one per request.
sqs = boto3.client("sqs", config=Config(parameter_validation=False, user_agent="floor"))
queue_url = os.environ["WEBHOOK_QUEUE_URL"]
secret = json.loads(
    boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["WEBHOOK_SECRET_ARN"])["SecretString"]
)["app_secret"].encode()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = event["body"].encode()
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, event["headers"].get("x-hub-signature-256", "")):
        return {"statusCode": 401}
    sqs.send_message(QueueUrl=queue_url, MessageBody=event["body"])
    return {"statusCode": 200}
