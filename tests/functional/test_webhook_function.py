"""The webhook function through its real entry point: API Gateway HTTP API events from events/."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from support.aws import REGION, queue_messages
from wacloud.meta.signature import sign
from wacloud.webhook.envelope import INLINE_BODY_LIMIT, PayloadPointer
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN


@pytest.fixture
def webhook(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("WebhookFunction")


def signed_post(body: bytes, secret: str = LOCAL_APP_SECRET) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    event["body"] = body.decode("utf-8")
    event["headers"]["x-hub-signature-256"] = sign(body, secret)
    event["headers"]["content-length"] = str(len(body))
    return event


# ---------------------------------------------------------------- handshake


def test_handshake_echoes_the_challenge_as_plain_text(webhook: LocalFunction) -> None:
    response = webhook.invoke(load_event("apigw/webhook_get_verify.json"))
    assert response["statusCode"] == 200
    assert response["body"] == "1158201444"
    assert response["headers"]["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "wrong-token"},
        {"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": LOCAL_VERIFY_TOKEN},
        {"hub.challenge": "1", "hub.verify_token": LOCAL_VERIFY_TOKEN},
        {"hub.mode": "subscribe", "hub.verify_token": LOCAL_VERIFY_TOKEN},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": LOCAL_VERIFY_TOKEN + "x"},
    ],
)
def test_handshake_refuses_anything_else(webhook: LocalFunction, params: dict[str, str]) -> None:
    event = copy.deepcopy(load_event("apigw/webhook_get_verify.json"))
    event["queryStringParameters"] = params
    response = webhook.invoke(event)
    assert response["statusCode"] == 403
    assert "1" not in response["body"]


def test_handshake_without_query_string_is_refused(webhook: LocalFunction) -> None:
    event = copy.deepcopy(load_event("apigw/webhook_get_verify.json"))
    del event["queryStringParameters"]
    assert webhook.invoke(event)["statusCode"] == 403


# ---------------------------------------------------------------- signed deliveries


def test_signed_post_is_queued_byte_for_byte(webhook: LocalFunction, stack: LocalStack) -> None:
    event = load_event("apigw/webhook_post_message_text.json")
    response = webhook.invoke(event)
    assert response["statusCode"] == 200
    [message] = queue_messages(stack)
    assert message["Body"].encode("utf-8") == event["body"].encode("utf-8")
    attributes = message["MessageAttributes"]
    assert attributes["request_id"]["StringValue"] == event["requestContext"]["requestId"]
    assert attributes["received_at_ms"]["StringValue"] == str(event["requestContext"]["timeEpoch"])
    assert attributes["payload_location"]["StringValue"] == "inline"


def test_base64_bodies_are_decoded_before_the_signature_check(
    webhook: LocalFunction, stack: LocalStack
) -> None:
    event = load_event("apigw/webhook_post_base64.json")
    assert event["isBase64Encoded"] is True
    assert webhook.invoke(event)["statusCode"] == 200
    [message] = queue_messages(stack)
    assert message["Body"].encode("utf-8") == base64.b64decode(event["body"])


def test_non_ascii_bodies_keep_their_exact_bytes(webhook: LocalFunction, stack: LocalStack) -> None:
    body = '{"object":"whatsapp_business_account","entry":[],"note":"caf\u00e9 \U0001f44d"}'.encode()
    assert webhook.invoke(signed_post(body))["statusCode"] == 200
    [message] = queue_messages(stack)
    assert message["Body"].encode("utf-8") == body


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda e: e["headers"].pop("x-hub-signature-256"), id="missing"),
        pytest.param(
            lambda e: e["headers"].update({"x-hub-signature-256": "sha256=" + "0" * 64}), id="wrong"
        ),
        pytest.param(lambda e: e["headers"].update({"x-hub-signature-256": "sha256=zz"}), id="not-hex"),
        pytest.param(lambda e: e["headers"].update({"x-hub-signature-256": ""}), id="empty"),
        pytest.param(
            lambda e: e["headers"].update({"x-hub-signature-256": sign(e["body"].encode(), "other-secret")}),
            id="other-secret",
        ),
        pytest.param(lambda e: e.update({"body": e["body"] + " "}), id="body-changed"),
        pytest.param(
            lambda e: e.update({"body": json.dumps(json.loads(e["body"]), indent=1)}), id="re-serialised"
        ),
    ],
)
def test_unsigned_or_wrongly_signed_posts_are_refused_and_not_queued(
    webhook: LocalFunction, stack: LocalStack, mutate: Callable[[dict[str, Any]], object]
) -> None:
    event = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    mutate(event)
    response = webhook.invoke(event)
    assert response["statusCode"] == 401
    assert queue_messages(stack) == []


def test_signature_header_name_is_case_insensitive(webhook: LocalFunction, stack: LocalStack) -> None:
    event = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    event["headers"]["X-Hub-Signature-256"] = (
        event["headers"].pop("x-hub-signature-256").upper().replace("SHA256=", "sha256=")
    )
    assert webhook.invoke(event)["statusCode"] == 200
    assert len(queue_messages(stack)) == 1


def test_oversized_payloads_go_to_the_bucket_and_the_queue_points_there(
    webhook: LocalFunction, stack: LocalStack
) -> None:
    filler = "x" * (INLINE_BODY_LIMIT + 10)
    body = json.dumps({"object": "whatsapp_business_account", "entry": [], "filler": filler}).encode()
    assert webhook.invoke(signed_post(body))["statusCode"] == 200
    [message] = queue_messages(stack)
    assert message["MessageAttributes"]["payload_location"]["StringValue"] == "s3"
    pointer = PayloadPointer.from_json(message["Body"])
    assert pointer.bucket == stack.bucket_names["PayloadBucket"]
    assert pointer.sha256 == hashlib.sha256(body).hexdigest()
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket=pointer.bucket, Key=pointer.key)
    assert stored["Body"].read() == body


def test_bodies_sqs_cannot_carry_go_to_the_bucket(webhook: LocalFunction, stack: LocalStack) -> None:
    body = b'{"object":"whatsapp_business_account","entry":[],"bad":"\x01"}'
    assert webhook.invoke(signed_post(body))["statusCode"] == 200
    [message] = queue_messages(stack)
    pointer = PayloadPointer.from_json(message["Body"])
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket=pointer.bucket, Key=pointer.key)
    assert stored["Body"].read() == body


def test_queue_failure_answers_5xx_so_meta_retries(webhook: LocalFunction, stack: LocalStack) -> None:
    boto3.client("sqs", region_name=REGION).delete_queue(QueueUrl=stack.queue_urls["WebhookQueue"])
    response = webhook.invoke(load_event("apigw/webhook_post_message_text.json"))
    assert response["statusCode"] == 503


def test_unreadable_secret_answers_5xx_and_logs_no_secret(
    load_function: Callable[[str], LocalFunction],
    stack: LocalStack,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret_arn = stack.secret_arns["WebhookSecret"]
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=secret_arn, SecretString=json.dumps({"app_secret": "s3cr3t-value", "verify_token": ""})
    )
    webhook = load_function("WebhookFunction")
    with caplog.at_level(logging.INFO):
        response = webhook.invoke(load_event("apigw/webhook_post_message_text.json"))
    assert response["statusCode"] == 500
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text + "".join(str(vars(r)) for r in caplog.records)
    assert [r.error for r in caplog.records if hasattr(r, "error")] == ["SecretFormatError"]
    assert "s3cr3t-value" not in logs
    assert queue_messages(stack) == []


def test_unknown_methods_are_refused(webhook: LocalFunction) -> None:
    event = copy.deepcopy(load_event("apigw/webhook_get_verify.json"))
    event["requestContext"]["http"]["method"] = "PUT"
    assert webhook.invoke(event)["statusCode"] == 405


def test_cold_path_imports_neither_pydantic_nor_requests() -> None:
    """The webhook must answer fast from a cold start: no heavy imports on its path."""
    script = (
        "import os, sys\n"
        "os.environ.update(WEBHOOK_QUEUE_URL='q', PAYLOAD_BUCKET='b', WEBHOOK_SECRET_ARN='s',"
        " AWS_DEFAULT_REGION='us-east-1')\n"
        "from walocal.template import Template\n"
        "from walocal.functions import load_module\n"
        "load_module(Template.load().functions()['WebhookFunction'])\n"
        "heavy = sorted(m for m in ('pydantic', 'requests', 'aws_lambda_powertools.utilities.parameters',"
        " 'aws_lambda_powertools.event_handler', 'aws_xray_sdk') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
