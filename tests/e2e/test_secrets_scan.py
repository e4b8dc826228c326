"""No secret leaves Secrets Manager: a full local run with distinctive secret values, then a search
of every log line, table item, queue message, S3 object and answer for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from support.aws import all_items
from support.local_runtime import RunningRuntime, local_runtime
from walocal.events import event_path

pytestmark = [pytest.mark.e2e]

APP_SECRET = "appsecret-Zq81vX0pLw2"
VERIFY_TOKEN = "verifytoken-Hm47tYq9Rb"
ACCESS_TOKEN = "accesstoken-Kc52nWe8Ud"
SECRETS = (APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN)


def everything_stored(runtime: RunningRuntime) -> list[str]:
    """Every item, queue message (peeked, then released) and object of the emulated stack."""
    texts = [json.dumps(item, default=str) for item in all_items(runtime.table())]
    sqs = runtime.client("sqs")
    for url in sqs.list_queues()["QueueUrls"]:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
        ).get("Messages", [])
        texts += [json.dumps(message) for message in messages]
    s3 = runtime.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        for entry in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            texts.append(
                s3.get_object(Bucket=bucket["Name"], Key=entry["Key"])["Body"].read().decode("latin-1")
            )
    return texts


def test_no_secret_reaches_a_log_an_item_a_message_an_object_or_an_answer(tmp_path: Path) -> None:
    env = {
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
    }
    answers: list[str] = []
    # DEBUG: the lines operators turn on to investigate must be as free of secrets as the others.
    with local_runtime(tmp_path / "wa-local.log", env=env, parameters={"LogLevel": "DEBUG"}) as runtime:
        # The handshake, right and wrong.
        for token in (VERIFY_TOKEN, "wrong"):
            params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"}
            answers.append(requests.get(runtime.webhook_url, params=params, timeout=10).text)
        # Webhooks: signed, forged, oversized (through S3), poison.
        message = json.loads(event_path("webhooks/message_text.json").read_text())
        body = json.dumps(message).encode()
        answers += [runtime.post_webhook(body, APP_SECRET).text, runtime.post_webhook(body, "forged").text]
        padded = {**message, "padding": "x" * 1_100_000}
        answers.append(runtime.post_webhook(json.dumps(padded).encode(), APP_SECRET).text)
        answers.append(runtime.post_webhook(b"not json", APP_SECRET).text)
        # Sends: accepted, refused by a rule, invalid, and refused by Meta for the token (190).
        template: dict[str, Any] = {"to": "16505551234", "type": "template"}
        template["template"] = {"name": "hello_world", "language": {"code": "en_US"}}
        text = {"to": "19995550000", "type": "text", "text": {"body": "hello"}}  # no window: refused
        answers.append(runtime.invoke(template).text)
        answers.append(runtime.invoke(text).text)
        answers.append(runtime.invoke({"to": 5}).text)
        requests.put(
            f"{runtime.graph_url}/_simulator/chaos", json={"expired_tokens": [ACCESS_TOKEN]}, timeout=5
        )
        answers.append(runtime.invoke({**template, "idempotency_key": "k-190"}).text)
        answers.append(requests.get(f"{runtime.graph_url}/_simulator/chaos", timeout=5).text)
        answers.append(requests.get(f"{runtime.graph_url}/_simulator/messages", timeout=5).text)
        # The operator tools, against the same stack.
        for command in (["dlq", "list"], ["failed"], ["raw", "list"], ["conversation", "16505551234"]):
            done = subprocess.run(
                [sys.executable, "-m", "wactl", *command, "--local", "--endpoint-url", runtime.aws_url,
                 "--invoke-url", runtime.invoke_url],
                check=True, capture_output=True, text=True, timeout=60,
                env={**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
            )  # fmt: skip
            answers += [done.stdout, done.stderr]
        stored = everything_stored(runtime)
        calls = requests.get(f"{runtime.aws_url}/_walocal/calls", timeout=10).text
    log = runtime.log()
    haystacks = {"log": [log], "stored": stored, "answers": answers, "IAM call log": [calls]}
    leaks = [
        (where, secret)
        for where, texts in haystacks.items()
        for secret in SECRETS
        for text in texts
        if secret in text
    ]
    assert not leaks
    # The run did what it claims: the handshake, the webhook and a send went through, the forgery
    # and the expired token were refused, and the operator tools answered.
    assert answers[:4] == ["42", "Forbidden", "OK", "Invalid signature"]
    assert '"accepted"' in answers[6]
    assert "190" in answers[9]
    assert "webhook queued" in log
