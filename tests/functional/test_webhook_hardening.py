"""The webhook function against what the internet can send it, and through secret rotations."""

from __future__ import annotations

import base64
import copy
import inspect
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.aws import REGION, queue_messages
from support.fuzzing import json_values
from wacloud.meta.signature import sign
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN

NEW_SECRET = "rotated-app-secret"


@pytest.fixture
def webhook(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("WebhookFunction")


def post(body: bytes, signature: str | None) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    event["body"] = body.decode("utf-8")
    event["headers"].pop("x-hub-signature-256", None)
    if signature is not None:
        event["headers"]["x-hub-signature-256"] = signature
    return event


def put_webhook_secret(stack: LocalStack, **values: str) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=stack.secret_arns["WebhookSecret"], SecretString=json.dumps(values)
    )


class CountingSecrets:
    """Wraps the function's Secrets Manager client to count reads."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.reads = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.client.get_secret_value(**kwargs)


def count_secret_reads(webhook: LocalFunction) -> CountingSecrets:
    webhook.invoke(load_event("apigw/webhook_get_verify.json"))  # cold start done, secret cached
    intake = inspect.unwrap(webhook._handler).__globals__["intake"]
    counter = CountingSecrets(intake._credentials._client)
    intake._credentials._client = counter
    return counter


# ---------------------------------------------------------------- rotation without downtime


def test_after_an_app_secret_reset_both_secrets_verify_at_once(
    webhook: LocalFunction, stack: LocalStack
) -> None:
    body = json.dumps(load_event("webhooks/message_text.json")).encode()
    reads = count_secret_reads(webhook)
    put_webhook_secret(
        stack, app_secret=NEW_SECRET, previous_app_secret=LOCAL_APP_SECRET, verify_token=LOCAL_VERIFY_TOKEN
    )
    # Meta signs with the new secret at once: the cached old secret fails, the secret is read again.
    assert webhook.invoke(post(body, sign(body, NEW_SECRET)))["statusCode"] == 200
    # Deliveries signed before the reset still verify while the previous secret is kept.
    assert webhook.invoke(post(body, sign(body, LOCAL_APP_SECRET)))["statusCode"] == 200
    assert reads.reads == 1
    assert len(queue_messages(stack)) == 2


def test_forged_signatures_read_the_secret_again_at_most_once(
    webhook: LocalFunction, stack: LocalStack
) -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    reads = count_secret_reads(webhook)
    for attempt in range(20):
        forged = sign(body, f"guess-{attempt}")
        assert webhook.invoke(post(body, forged))["statusCode"] == 401
    assert reads.reads == 1
    assert queue_messages(stack) == []


def test_a_new_verify_token_is_accepted_before_the_cache_expires(
    webhook: LocalFunction, stack: LocalStack
) -> None:
    count_secret_reads(webhook)
    put_webhook_secret(stack, app_secret=LOCAL_APP_SECRET, verify_token="new-verify-token")
    event = copy.deepcopy(load_event("apigw/webhook_get_verify.json"))
    event["queryStringParameters"]["hub.verify_token"] = "new-verify-token"
    response = webhook.invoke(event)
    assert (response["statusCode"], response["body"]) == (200, "1158201444")


# ---------------------------------------------------------------- what the internet can send


def _event_with(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    event.update(changes)
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_event_with(isBase64Encoded=True, body="not base64!"), id="invalid-base64"),
        pytest.param(_event_with(body=12345), id="body-not-text"),
        pytest.param(_event_with(headers=["x-hub-signature-256"]), id="headers-not-object"),
        pytest.param(_event_with(requestContext="POST"), id="context-not-object"),
        pytest.param(_event_with(requestContext={"http": "POST"}), id="http-not-object"),
        pytest.param(_event_with(queryStringParameters=[1]), id="query-not-object"),
        pytest.param([1, 2, 3], id="event-not-object"),
        pytest.param("POST /webhook", id="event-a-string"),
    ],
)
def test_unreadable_events_are_answered_400(webhook: LocalFunction, stack: LocalStack, event: Any) -> None:
    response = webhook.invoke(event)
    assert (response["statusCode"], response["body"]) == (400, "Bad request")
    assert queue_messages(stack) == []


def test_base64_bodies_are_verified_over_the_decoded_bytes(webhook: LocalFunction, stack: LocalStack) -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}\xff'
    event = post(b"", sign(body, LOCAL_APP_SECRET))
    event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    assert webhook.invoke(event)["statusCode"] == 200
    assert len(queue_messages(stack)) == 1


@st.composite
def fuzzed_events(draw: st.DrawFn) -> tuple[Any, bool]:
    """An event, and whether it carries a POST signed with the app secret over its exact body."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values), False
    event: dict[str, Any] = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    body = draw(st.binary(max_size=300))
    encoded = draw(st.booleans())
    event["body"] = base64.b64encode(body).decode() if encoded else body.decode("utf-8", "replace")
    signed_bytes = body if encoded else event["body"].encode("utf-8")
    event["isBase64Encoded"] = encoded
    signature = draw(
        st.sampled_from(["valid", "other-secret", "missing", "garbage"]),
    )
    headers = event["headers"]
    headers.pop("x-hub-signature-256", None)
    if signature == "valid":
        headers[draw(st.sampled_from(["x-hub-signature-256", "X-Hub-Signature-256"]))] = sign(
            signed_bytes, LOCAL_APP_SECRET
        )
    elif signature == "other-secret":
        headers["x-hub-signature-256"] = sign(signed_bytes, "not-the-secret")
    elif signature == "garbage":
        headers["x-hub-signature-256"] = draw(st.text(max_size=80))
    for key in draw(
        st.lists(st.sampled_from(["headers", "requestContext", "body", "isBase64Encoded"]), max_size=2)
    ):
        event[key] = draw(json_values)
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT", "", None]))
    context = event.get("requestContext")
    if isinstance(context, dict) and isinstance(context.get("http"), dict):
        context["http"]["method"] = method
    return event, _signed_post(event)


def _signed_post(event: dict[str, Any]) -> bool:
    """Whether the event is a readable POST whose signature is the app secret's over its bytes."""
    context, headers, body = event.get("requestContext"), event.get("headers"), event.get("body")
    if not (
        isinstance(context, dict) and isinstance(context.get("http"), dict) and isinstance(headers, dict)
    ):
        return False
    if context["http"].get("method") != "POST" or not (body is None or isinstance(body, str)):
        return False
    raw = (body or "").encode("utf-8")
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(raw, validate=True)
        except ValueError:
            return False
    signatures = [v for k, v in headers.items() if str(k).lower() == "x-hub-signature-256"]
    return bool(signatures) and signatures[-1] == sign(raw, LOCAL_APP_SECRET)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=fuzzed_events())
def test_fuzzed_events_never_raise_never_5xx_and_queue_only_signed_posts(
    webhook: LocalFunction, stack: LocalStack, case: tuple[Any, bool]
) -> None:
    event, intact = case
    response = webhook.invoke(event)
    assert response["statusCode"] in (200, 400, 401, 403, 405)
    # Counts only this example's messages: receiving leaves the earlier ones invisible.
    queued = len(queue_messages(stack))
    assert queued == (1 if intact else 0)
    if intact:
        assert response["statusCode"] == 200
    elif _is_post(event):
        assert response["statusCode"] != 200


def _is_post(event: Any) -> bool:
    try:
        return bool(event["requestContext"]["http"]["method"] == "POST")
    except (TypeError, KeyError):
        return False
