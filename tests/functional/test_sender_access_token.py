"""An access token Meta refuses (190) keeps the work for later instead of failing it for good.

The sender reads the secret again once; if it still holds the refused token, nothing can be sent
until someone replaces it. Queue records go back to the queue (then to its dead-letter queue),
EventBridge events fail their invocation (Lambda retries them, then the failure destination
keeps them), direct callers get a retryable error; and neither Meta nor Secrets Manager is asked
again for every item.

Driven through the sender's handler, cold-started from template.yaml against moto, with a
Graph API on loopback that refuses the token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from support.aws import REGION, queue_messages
from support.fake_graph import FakeGraphServer
from support.sender_events import TO, eventbridge_event, failed_sends, open_window, sqs_event
from wacloud.meta.access_token import AccessTokenRejected
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_ACCESS_TOKEN

SECRET_READ = "before-call.secrets-manager.GetSecretValue"
NEW_TOKEN = "replaced-access-token"


@pytest.fixture
def secret_reads(stack: LocalStack) -> Iterator[list[str]]:
    """Every GetSecretValue call of clients created from now on (the functions' cold starts)."""
    reads: list[str] = []

    def count(**_: Any) -> None:
        reads.append(SECRET_READ)

    events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    events.register(SECRET_READ, count)
    yield reads
    events.unregister(SECRET_READ, count)


@pytest.fixture
def load_sender(
    load_function: Callable[..., LocalFunction], graph: FakeGraphServer, secret_reads: list[str]
) -> Callable[[], LocalFunction]:
    """A new sender instance (cold start) against the Graph API, which refuses the local token."""
    graph.fake.rejected_tokens.add(LOCAL_ACCESS_TOKEN)

    def load() -> LocalFunction:
        return load_function(
            "SenderFunction",
            GRAPH_API_URL=graph.url,
            SEND_RATE_PER_SECOND="10000",
            SEND_BACKOFF_BASE_SECONDS="0.001",
        )

    return load


def replace_token(stack: LocalStack) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=stack.secret_arns["AccessTokenSecret"],
        SecretString=json.dumps({"access_token": NEW_TOKEN}),
    )


def tokens_sent(graph: FakeGraphServer) -> list[str]:
    return [request.headers["authorization"].removeprefix("Bearer ") for request in graph.fake.requests]


def texts(*bodies: str) -> list[dict[str, Any]]:
    return [{"to": TO, "type": "text", "text": {"body": body}} for body in bodies]


def test_queued_records_go_back_to_the_queue_and_are_sent_once_the_token_is_replaced(
    load_sender: Callable[[], LocalFunction],
    graph: FakeGraphServer,
    stack: LocalStack,
    secret_reads: list[str],
) -> None:
    open_window(stack)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    reminder = {"job": "reminder", "date": today, "wa_id": TO, "name": "Maria"}
    batch = sqs_event(*texts("one", "two"), {"messages": texts("three", "four")}, reminder)
    ids = [record["messageId"] for record in batch["Records"]]

    answer = load_sender().invoke(batch)

    assert answer == {"batchItemFailures": [{"itemIdentifier": record_id} for record_id in ids]}
    assert failed_sends(stack) == []  # the queue keeps them, and its dead-letter queue after it
    # The records are sent side by side: each of those already asking Meta learnt that the token
    # is refused, at most one request each, and none asked again (the request with "four" follows
    # "three" in its record: it never went out). The secret was read at the cold start and once
    # more: Secrets Manager was not asked again.
    refused = tokens_sent(graph)
    assert 1 <= len(refused) <= len(ids)
    assert set(refused) == {LOCAL_ACCESS_TOKEN}
    assert "four" not in [request.body.get("text", {}).get("body") for request in graph.fake.requests]
    assert len(secret_reads) == 2

    replace_token(stack)
    assert load_sender().invoke(batch) == {"batchItemFailures": []}  # SQS delivers them again
    sent = [request.body for request in graph.fake.requests[len(refused) :]]
    bodies = [body.get("text", {}).get("body") for body in sent]
    assert sorted(bodies, key=str) == sorted(["one", "two", "three", "four", None], key=str)
    assert bodies.index("three") < bodies.index("four")  # a record's items go in order
    assert [body["template"]["name"] for body in sent if "template" in body] == ["daily_reminder"]
    assert set(tokens_sent(graph)[len(refused) :]) == {NEW_TOKEN}


def test_eventbridge_event_fails_its_invocation_so_lambda_retries_it(
    load_sender: Callable[[], LocalFunction], graph: FakeGraphServer, stack: LocalStack
) -> None:
    event = eventbridge_event({"messages": texts("one", "two")})
    open_window(stack)
    with pytest.raises(AccessTokenRejected, match=event["id"]):
        load_sender().invoke(event)
    assert queue_messages(stack, "OutboundQueue") == []
    assert failed_sends(stack) == []
    assert tokens_sent(graph) == [LOCAL_ACCESS_TOKEN]

    replace_token(stack)
    results = load_sender().invoke(event)["results"]  # Lambda's retry: the same event
    assert [result["status"] for result in results] == ["accepted", "accepted"]
    assert tokens_sent(graph) == [LOCAL_ACCESS_TOKEN, NEW_TOKEN, NEW_TOKEN]


def test_direct_send_gets_a_retryable_error_saying_what_to_do(
    load_sender: Callable[[], LocalFunction], graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    results = load_sender().invoke({"messages": texts("one", "two")})["results"]
    errors = [result["error"] for result in results]
    assert [(e["code"], e["title"], e["retryable"]) for e in errors] == [
        (190, "Access token rejected", True)
    ] * 2
    assert all("valid access token in the WhatsApp secret" in e["hint"] for e in errors)
    assert all(e["retry_after_seconds"] == 30 for e in errors)
    assert tokens_sent(graph) == [LOCAL_ACCESS_TOKEN]
