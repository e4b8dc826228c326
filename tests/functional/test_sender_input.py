"""Odd input and odd answers: a clear error naming the field and no request, or a settled claim.

Driven through the sender's handler, cold-started from template.yaml against moto, with a
scripted Graph API on loopback.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.aws import queue_messages
from support.fake_graph import FakeGraphServer, Reply
from support.sender_events import TO, eventbridge_event, failed_sends, first_error, open_window, sqs_event
from wacloud.meta.outbound import MAX_ERROR_TEXT, SendRequestError
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

TEXT = {"to": TO, "type": "text", "text": {"body": "hi"}}


NOT_AN_OBJECT = "must be a JSON object"
HELLO = {"to": TO, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


@pytest.mark.parametrize(
    ("event", "field", "rule"),
    [
        (None, "", NOT_AN_OBJECT),  # the whole request
        ("send hi to 16505551234", "", NOT_AN_OBJECT),
        (42, "", NOT_AN_OBJECT),
        (True, "", NOT_AN_OBJECT),
        ([], "", NOT_AN_OBJECT),
        ([TEXT], "", NOT_AN_OBJECT),
        ({"messages": [TEXT, "hi"]}, "messages[1]", NOT_AN_OBJECT),
        ({"messages": TEXT}, "messages", "must be a valid list"),
        # Shaped like an SQS batch but not one: judged as a send request, which needs a type.
        ({"Records": [1]}, "type", None),
        ({"Records": [*sqs_event(TEXT)["Records"], "x"]}, "type", None),
    ],
    ids=[
        "null",
        "string",
        "number",
        "boolean",
        "empty list",
        "list of messages",
        "batch item not an object",
        "batch not a list",
        "records not objects",
        "one record not an object",
    ],
)
def test_a_direct_invoke_that_is_no_request_is_refused_naming_the_field(
    event: Any, field: str, rule: str | None, sender: LocalFunction, graph: FakeGraphServer
) -> None:
    answer = sender.invoke(event)
    assert answer["error"]["type"] == "InvalidRequest"
    problems = {problem["field"]: problem["rule"] for problem in answer["error"]["problems"]}
    assert field in problems
    assert rule is None or problems[field] == rule
    assert graph.fake.requests == []


@pytest.mark.parametrize(
    "event_id",
    [None, "", 42, ["6a7e8feb"], "x" * 101],
    ids=lambda value: "no id" if value is None else repr(value)[:20],
)
def test_an_event_without_a_usable_id_is_refused_naming_it(
    event_id: Any, sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    event = eventbridge_event(HELLO)
    if event_id is None:
        del event["id"]
    else:
        event["id"] = event_id
    with pytest.raises(SendRequestError) as refused:
        sender.invoke(event)
    assert [problem.loc for problem in refused.value.problems] == ["id"]
    assert graph.fake.requests == []
    assert queue_messages(stack, "OutboundQueue") == []


@pytest.mark.parametrize(
    "error",
    [
        {"code": 131026, "message": {"text": "Message undeliverable"}, "error_data": {"details": ["a", 1]}},
        {"code": "131026", "title": 5, "message": None, "error_user_msg": ["undeliverable"]},
        {"code": 131026, "message": "x" * 200_000},
        {"code": [131026], "message": True, "error_data": "not an object"},
        {"code": 131026.0, "title": {"nested": {"deeper": [None]}}},
    ],
    ids=["object message", "string code", "huge message", "list code", "float code"],
)
def test_a_graph_error_with_odd_fields_is_recorded_and_releases_the_key(
    error: dict[str, Any], sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    open_window(stack)
    graph.fake.script.append(Reply(400, {"error": error}))
    request = {**TEXT, "idempotency_key": "k-odd-error"}
    [failed] = sender.invoke(request)["results"]
    assert failed["status"] == "failed"
    reported = failed["error"]
    assert isinstance(reported["code"], int)
    assert reported["retryable"] is False
    texts = [reported[name] for name in ("title", "message", "details") if reported[name] is not None]
    assert all(isinstance(text, str) and len(text) <= MAX_ERROR_TEXT for text in texts)
    [recorded] = failed_sends(stack)
    assert first_error(recorded)["code"] == reported["code"]
    # Nothing was sent, so the key is free for a later attempt.
    [sent] = sender.invoke(request)["results"]
    assert sent["status"] == "accepted"
    assert len(graph.fake.requests) == 2
