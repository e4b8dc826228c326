"""The sender function through its real entry point: direct invocation, SQS, EventBridge.

The function is cold-started from template.yaml against the emulated stack (moto) and sends to
a scripted Graph API on loopback, so every assertion is on what Meta would receive.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest

from support.aws import REGION, queue_messages
from support.fake_graph import FakeGraphServer, graph_error
from support.sender_events import TO, failed_send_ids, open_window, sqs_event, store
from support.sender_examples import EXPECTED
from wacloud.meta.outbound import SendRequestError
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_PHONE_NUMBER_ID

TEXT = {"to": TO, "type": "text", "text": {"body": "hi"}}


# ---------------------------------------------------------------------- direct invocation
def test_text_message_is_sent_with_the_secret_token_and_recorded(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    result = sender.invoke(TEXT)
    assert result == {
        "results": [{"to": TO, "message_id": "wamid.FAKE000001", "status": "accepted", "error": None}]
    }
    [request] = graph.fake.requests
    assert request.path == f"/v24.0/{LOCAL_PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {LOCAL_ACCESS_TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "text",
        "text": {"body": "hi"},
    }
    message = store(stack).message("wamid.FAKE000001")
    assert message is not None
    assert message["direction"] == "outbound"
    assert message["wa_id"] == TO
    assert message["text"] == "hi"
    assert json.loads(message["request"]) == request.body
    assert "wamid.FAKE000001" in [m["wamid"] for m in store(stack).conversation(TO)]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_message_type_reaches_meta_as_its_exact_graph_body(
    name: str, sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    answer = sender.invoke(load_event(f"sender/{name}.json"))
    assert [request.body for request in graph.fake.requests] == EXPECTED[name]
    assert [result["status"] for result in answer["results"]] == [
        "read" if body.get("status") == "read" else "accepted" for body in EXPECTED[name]
    ]


def test_meta_errors_come_back_as_failed_results(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(graph_error(131026, "Message undeliverable"))
    [result] = sender.invoke(TEXT)["results"]
    assert result["status"] == "failed"
    assert result["message_id"] is None
    assert result["error"]["code"] == 131026
    assert result["error"]["message"] == "Message undeliverable"
    assert result["error"]["retryable"] is False
    assert len(graph.fake.requests) == 1


def test_free_form_outside_the_window_is_refused_without_a_request(
    sender: LocalFunction, graph: FakeGraphServer
) -> None:
    [result] = sender.invoke(TEXT)["results"]
    assert (result["status"], result["error"]["code"], result["error"]["title"]) == (
        "failed",
        131047,
        "Re-engagement message",
    )
    assert graph.fake.requests == []


def test_invalid_requests_name_the_field_and_send_nothing(
    sender: LocalFunction, graph: FakeGraphServer
) -> None:
    answer = sender.invoke({"to": "12", "type": "text", "text": {"body": "hi"}})
    assert answer["error"]["type"] == "InvalidRequest"
    assert {"field": "to", "rule": "must be 8 to 15 digits (E.164 without '+')"} in answer["error"][
        "problems"
    ]
    assert graph.fake.requests == []


def test_expired_token_rereads_the_secret_once(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    sender.invoke({**TEXT, "text": {"body": "warm the token cache"}})
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=stack.secret_arns["AccessTokenSecret"],
        SecretString=json.dumps({"access_token": "fresh-token"}),
    )
    graph.fake.script.append(graph_error(190, "Error validating access token", http_status=401))
    [result] = sender.invoke(TEXT)["results"]
    assert result["status"] == "accepted"
    assert [r.headers["authorization"] for r in graph.fake.requests] == [
        f"Bearer {LOCAL_ACCESS_TOKEN}",
        f"Bearer {LOCAL_ACCESS_TOKEN}",
        "Bearer fresh-token",
    ]


def test_throttled_send_retries_within_the_invocation(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(graph_error(130429, "Rate limit hit"))
    [result] = sender.invoke(TEXT)["results"]
    assert result["status"] == "accepted"
    assert len(graph.fake.requests) == 2


def test_no_request_starts_when_the_invocation_is_nearly_over(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    sender.spec.timeout = 12  # less than one request's timeouts (13 s) plus the reserve
    [result] = sender.invoke(TEXT)["results"]
    assert graph.fake.requests == []
    assert (result["status"], result["error"]["retryable"]) == ("failed", True)


# ---------------------------------------------------------------------- outbound queue
def test_queued_send_request_and_reminder_job_are_sent(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    answer = sender.invoke(load_event("sender/sources/sqs_send_request.json"))
    assert answer == {"batchItemFailures": []}
    # The two records are sent side by side: told apart by template, not by order of arrival.
    bodies = {request.body["template"]["name"]: request.body for request in graph.fake.requests}
    assert sorted(bodies) == ["daily_reminder", "order_shipped"]
    assert bodies["daily_reminder"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "template",
        "template": {
            "name": "daily_reminder",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Maria"}]}],
        },
    }
    keys = [store(stack).message(f"wamid.FAKE00000{n}") for n in (1, 2)]
    assert sorted(message["idempotency_key"] for message in keys if message) == [
        "order-1042-shipped",
        f"reminder:2027-03-14:{TO}",
    ]


def test_the_records_of_a_batch_are_sent_side_by_side(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    # Meta holds each answer until five requests are waiting at once: a sender that sent its
    # records one after the other would never get an answer in time.
    together = threading.Barrier(5, timeout=10)

    def wait_for_the_others(body: dict[str, Any]) -> None:
        together.wait()

    graph.fake.on_request = wait_for_the_others
    bodies = [{**TEXT, "text": {"body": f"m{n}"}} for n in range(5)]
    assert sender.invoke(sqs_event(*bodies)) == {"batchItemFailures": []}
    assert sorted(request.body["text"]["body"] for request in graph.fake.requests) == [
        f"m{n}" for n in range(5)
    ]
    assert not together.broken


def test_queued_retryable_failure_is_redelivered_and_a_final_one_recorded(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    # The first record is throttled on every attempt (SEND_MAX_ATTEMPTS, 6 by default); the
    # second is refused for good.
    graph.fake.by_text["hi"] = [graph_error(130429)] * 6
    graph.fake.by_text["second"] = [graph_error(131026, "Message undeliverable")]
    answer = sender.invoke(
        sqs_event(TEXT, {**TEXT, "text": {"body": "second"}}, ids=["throttled", "refused"])
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "throttled"}]}
    assert len(graph.fake.requests) == 7
    # Only the final failure needs follow-up; the other comes back from the queue.
    assert failed_send_ids(stack) == ["sqs:refused:0"]


def test_redelivered_record_is_not_sent_twice(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    batch = {"messages": [TEXT, {**TEXT, "text": {"body": "two"}}]}
    graph.fake.script.extend([(200, _accepted("wamid.ONE"))] + [graph_error(131000)] * 6)
    first = sender.invoke(sqs_event(batch, ids=["same-message"]))
    assert first == {"batchItemFailures": [{"itemIdentifier": "same-message"}]}
    # SQS delivers the same message again (same message id): only the unfinished item is sent.
    second = sender.invoke(sqs_event(batch, ids=["same-message"]))
    assert second == {"batchItemFailures": []}
    bodies = [request.body["text"]["body"] for request in graph.fake.requests]
    assert bodies.count("hi") == 1
    assert bodies.count("two") == 7


def test_invalid_queued_records_go_back_to_the_queue_until_the_dead_letter_queue(
    sender: LocalFunction, graph: FakeGraphServer
) -> None:
    answer = sender.invoke(
        sqs_event("not json", {"to": "12", "type": "text", "text": {"body": "x"}}, {"job": "reminder"})
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": f"msg-{index}"} for index in range(3)]}
    assert graph.fake.requests == []


# ---------------------------------------------------------------------- EventBridge
def test_eventbridge_event_is_sent_under_a_key_of_its_event_id(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    event = load_event("sender/sources/eventbridge_send_request.json")
    [result] = sender.invoke(event)["results"]
    assert result["status"] == "accepted"
    assert graph.fake.requests[0].body["template"]["name"] == "order_shipped"
    message = store(stack).message(result["message_id"])
    assert message is not None
    assert message["idempotency_key"] == f"event:{event['id']}:0"
    sender.invoke(event)  # EventBridge delivers at least once
    assert len(graph.fake.requests) == 1


def test_eventbridge_retryable_failure_is_handed_to_the_outbound_queue(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    event = load_event("sender/sources/eventbridge_send_request.json")
    graph.fake.script.extend([graph_error(130429)] * 6)
    [result] = sender.invoke(event)["results"]
    assert (result["status"], result["error"]["retryable"]) == ("failed", True)
    [queued] = queue_messages(stack, "OutboundQueue")
    assert json.loads(queued["Body"]) == {**event["detail"], "idempotency_key": f"event:{event['id']}:0"}


def test_invalid_eventbridge_detail_fails_the_invocation(sender: LocalFunction) -> None:
    event = {**load_event("sender/sources/eventbridge_send_request.json"), "detail": {"to": "12"}}
    with pytest.raises(SendRequestError):
        sender.invoke(event)


def _accepted(wamid: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "contacts": [], "messages": [{"id": wamid}]}
