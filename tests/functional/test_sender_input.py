"""Odd input and odd answers: a clear error naming the field and no request, or a settled claim.

Driven through the sender's handler, cold-started from template.yaml against moto, with a
scripted Graph API on loopback.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.fake_graph import FakeGraphServer, Reply
from support.sender_events import TO, failed_sends, first_error, open_window
from wacloud.meta.outbound import MAX_ERROR_TEXT
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

TEXT = {"to": TO, "type": "text", "text": {"body": "hi"}}


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
