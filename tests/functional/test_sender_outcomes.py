"""What the sender sends again, and what it never does: a lost answer leaves the outcome unknown.

Meta has no idempotency of its own. A request whose answer is lost (read timeout, dropped
connection, an answer that is not Meta's) may have been accepted, so the sender never sends it
again by itself: the item is answered "Outcome unknown", listed on the failed-messages index
with a hint, and every repeat under its key gets the same answer. Failures that prove nothing
was sent (no connection, an error Meta answered) are retried.

Driven through the sender's handler, cold-started from template.yaml against moto, with a
scripted Graph API (and once the Graph API simulator) that accepts a message after the sender
stopped waiting, as Meta can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from support.aws import queue_messages
from support.fake_graph import DISCONNECT, Answer, FakeGraphServer, Late, Reply
from support.local_runtime import eventually
from support.sender_events import (
    TO,
    eventbridge_event,
    failed_sends,
    first_error,
    open_window,
    refusing_port,
    sqs_event,
)
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_PHONE_NUMBER_ID
from walocal.simulator import GraphApiSimulator, SimulatorConfig

READ_TIMEOUT = 0.3
# Held longer than the sender waits, then accepted anyway.
ANSWER_AFTER_TIMEOUT = Late(READ_TIMEOUT + 0.7)
TEXT = {"to": TO, "type": "text", "text": {"body": "Your order shipped"}}
TEMPLATE = {"to": TO, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


@pytest.fixture
def load_sender(load_function: Callable[..., LocalFunction]) -> Callable[[str], LocalFunction]:
    """The sender cold-started against ``graph_url``, waiting READ_TIMEOUT for an answer."""

    def load(graph_url: str) -> LocalFunction:
        return load_function(
            "SenderFunction",
            GRAPH_API_URL=graph_url,
            GRAPH_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT),
            SEND_RATE_PER_SECOND="10000",
            SEND_BACKOFF_BASE_SECONDS="0.001",
        )

    return load


@pytest.fixture
def sender(load_sender: Callable[[str], LocalFunction], graph: FakeGraphServer) -> LocalFunction:
    return load_sender(graph.url)


def assert_unknown(result: dict[str, Any]) -> None:
    assert result["status"] == "failed"
    assert result["message_id"] is None
    error = result["error"]
    assert (error["code"], error["title"], error["retryable"]) == (-1, "Outcome unknown", False)
    assert "Meta may or may not have accepted the message" in error["message"]
    assert "Not sent again automatically" in error["hint"]


def assert_listed_for_follow_up(stack: LocalStack, send_id: str | None = None) -> dict[str, Any]:
    [failed] = failed_sends(stack)
    if send_id is not None:
        assert failed["send_id"] == send_id
    error = first_error(failed)
    assert (error["title"], error["retryable"]) == ("Outcome unknown", False)
    assert "new idempotency key" in error["hint"]
    return failed


# ---------------------------------------------------------------------- each event source
def test_direct_send_whose_answer_is_lost_is_answered_unknown_on_every_repeat(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(ANSWER_AFTER_TIMEOUT)
    request = {**TEXT, "idempotency_key": "order-7-shipped"}
    [first] = sender.invoke(request)["results"]
    assert_unknown(first)
    assert_listed_for_follow_up(stack, "order-7-shipped")
    for _ in range(2):
        assert sender.invoke(request)["results"] == [first]
    assert len(graph.fake.requests) == 1


def test_queued_send_whose_answer_is_lost_is_not_redelivered_nor_resent(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(ANSWER_AFTER_TIMEOUT)
    batch = sqs_event(TEXT, ids=["lost-answer"])
    assert sender.invoke(batch) == {"batchItemFailures": []}
    assert_listed_for_follow_up(stack, "sqs:lost-answer:0")
    # SQS may deliver the message again anyway (at least once): the key holds.
    assert sender.invoke(batch) == {"batchItemFailures": []}
    assert len(graph.fake.requests) == 1
    assert len(failed_sends(stack)) == 1


def test_eventbridge_send_whose_answer_is_lost_is_not_handed_to_the_queue(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    event = eventbridge_event(TEMPLATE)
    graph.fake.script.append(ANSWER_AFTER_TIMEOUT)
    [result] = sender.invoke(event)["results"]
    assert_unknown(result)
    assert queue_messages(stack, "OutboundQueue") == []
    assert_listed_for_follow_up(stack, f"event:{event['id']}:0")
    assert sender.invoke(event)["results"] == [result]  # EventBridge delivers at least once
    assert len(graph.fake.requests) == 1


def test_send_without_a_key_whose_answer_is_lost_is_not_resent(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(ANSWER_AFTER_TIMEOUT)
    [result] = sender.invoke(TEXT)["results"]
    assert_unknown(result)
    assert len(graph.fake.requests) == 1
    failed = assert_listed_for_follow_up(stack)
    assert "idempotency_key" not in failed


# ---------------------------------------------------------------------- what a failure proves
@pytest.mark.parametrize(
    "answer",
    [
        ANSWER_AFTER_TIMEOUT,
        DISCONNECT,  # the request was read, then the connection closed
        (502, {"message": "Bad gateway"}),
        Reply(504, b"<html><body>Gateway Timeout</body></html>", {"content-type": "text/html"}),
        Reply(503, b""),
        Reply(200, b"{not json"),
        Reply(200, [{"id": "wamid.X"}]),
        (200, {"messaging_product": "whatsapp"}),  # no message id
        (200, {"messaging_product": "whatsapp", "messages": [{"id": ""}]}),
    ],
    ids=repr,
)
def test_an_answer_that_does_not_prove_refusal_is_never_followed_by_a_resend(
    answer: Answer, sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(answer)
    request = {**TEXT, "idempotency_key": "k-maybe"}
    [first] = sender.invoke(request)["results"]
    assert_unknown(first)
    assert sender.invoke(request)["results"] == [first]
    assert len(graph.fake.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"error": {"code": 2, "message": "Service temporarily unavailable"}}),
        (400, {"error": {"code": 130429, "message": "Rate limit hit"}}),
        Reply(429, {"message": "Too Many Requests"}),
        Reply(429, b""),
    ],
    ids=repr,
)
def test_a_refusal_is_retried_at_once(
    answer: Answer, sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(answer)
    [result] = sender.invoke({**TEXT, "idempotency_key": "k-refused"})["results"]
    assert result["status"] == "accepted"
    assert len(graph.fake.requests) == 2


def test_no_connection_is_retried_and_leaves_the_key_for_a_later_send(
    load_sender: Callable[[str], LocalFunction], graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    request = {**TEXT, "idempotency_key": "k-offline"}
    with refusing_port() as port:
        [failed] = load_sender(f"http://127.0.0.1:{port}").invoke(request)["results"]
    assert (failed["error"]["title"], failed["error"]["retryable"]) == ("GraphUnreachableError", True)
    assert failed["error"]["hint"].startswith("Not accepted after 6 attempt(s)")  # SEND_MAX_ATTEMPTS
    [sent] = load_sender(graph.url).invoke(request)["results"]
    assert sent["status"] == "accepted"
    assert len(graph.fake.requests) == 1


# ---------------------------------------------------------------------- against the simulator
@pytest.fixture
def hanging_simulator() -> Iterator[GraphApiSimulator]:
    """The Graph API simulator, holding every answer past the sender's read timeout before
    accepting the message anyway (its SIMULATOR_TIMEOUT_PROBABILITY fault)."""
    config = SimulatorConfig(
        port=0,
        access_token=LOCAL_ACCESS_TOKEN,
        phone_number_id=LOCAL_PHONE_NUMBER_ID,
        webhook_retries=0,
        timeout_probability=1.0,
        hang_seconds=READ_TIMEOUT + 0.5,
    )
    # Its status webhooks go nowhere: they are not what this is about.
    with (
        refusing_port() as port,
        GraphApiSimulator(replace(config, webhook_url=f"http://127.0.0.1:{port}/webhook")) as simulator,
    ):
        yield simulator


def test_simulator_accepts_after_the_sender_gave_up_and_the_message_exists_once(
    load_sender: Callable[[str], LocalFunction], hanging_simulator: GraphApiSimulator, stack: LocalStack
) -> None:
    sender = load_sender(hanging_simulator.url)
    request = {**TEMPLATE, "idempotency_key": "welcome-16505551234"}
    [first] = sender.invoke(request)["results"]
    assert_unknown(first)
    assert sender.invoke(request)["results"] == [first]

    # Meta has it, exactly once.
    [message] = eventually(lambda: hanging_simulator.snapshot(TO)["messages"], timeout=5)
    assert (message["to"], message["type"]) == (TO, "template")
