"""The sender function through its real entry point: direct invocation with a Cloud API message."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import boto3
import pytest
from fake_graph import FakeGraphServer, graph_error
from support import REGION

from wacloud.store import ConversationStore
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_PHONE_NUMBER_ID


@pytest.fixture
def graph() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as server:
        yield server


@pytest.fixture
def sender(
    load_function: Callable[[str], LocalFunction], graph: FakeGraphServer, monkeypatch: pytest.MonkeyPatch
) -> LocalFunction:
    function = load_function("SenderFunction")
    # Point the cold start at the fake Graph API, as GRAPH_API_URL does for a real deployment.
    monkeypatch.setenv("GRAPH_API_URL", graph.url)
    function.load()
    return function


def store(stack: LocalStack) -> ConversationStore:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    return ConversationStore(table)


def test_text_message_is_sent_with_the_secret_token_and_recorded(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack
) -> None:
    result = sender.invoke({"to": "15551234567", "type": "text", "text": {"body": "hi"}})
    assert result == {
        "results": [
            {"to": "15551234567", "message_id": "wamid.FAKE000001", "status": "accepted", "error": None}
        ]
    }
    [request] = graph.fake.requests
    assert request.path == f"/v24.0/{LOCAL_PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {LOCAL_ACCESS_TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15551234567",
        "type": "text",
        "text": {"body": "hi"},
    }
    message = store(stack).message("wamid.FAKE000001")
    assert message is not None
    assert message["direction"] == "outbound"
    assert message["wa_id"] == "15551234567"
    assert message["text"] == "hi"
    assert json.loads(message["request"]) == request.body
    assert [m["wamid"] for m in store(stack).conversation("15551234567")] == ["wamid.FAKE000001"]


def test_sample_event_from_events_dir(sender: LocalFunction, graph: FakeGraphServer) -> None:
    result = sender.invoke(load_event("sender/text.json"))
    assert result["results"][0]["status"] == "accepted"
    assert graph.fake.requests[0].body["text"]["preview_url"] is True


def test_meta_errors_come_back_as_failed_results(sender: LocalFunction, graph: FakeGraphServer) -> None:
    graph.fake.script.append(graph_error(131026, "Message undeliverable"))
    [result] = sender.invoke({"to": "15551234567", "type": "text", "text": {"body": "hi"}})["results"]
    assert result["status"] == "failed"
    assert result["message_id"] is None
    assert result["error"]["code"] == 131026
    assert result["error"]["message"] == "Message undeliverable"
    assert result["error"]["retryable"] is False


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
    sender.invoke({"to": "15551234567", "type": "text", "text": {"body": "warm the token cache"}})
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=stack.secret_arns["WhatsAppSecret"],
        SecretString=json.dumps({"app_secret": "a", "verify_token": "v", "access_token": "fresh-token"}),
    )
    graph.fake.script.append(graph_error(190, "Error validating access token", http_status=401))
    [result] = sender.invoke({"to": "15551234567", "type": "text", "text": {"body": "hi"}})["results"]
    assert result["status"] == "accepted"
    assert [r.headers["authorization"] for r in graph.fake.requests] == [
        f"Bearer {LOCAL_ACCESS_TOKEN}",
        f"Bearer {LOCAL_ACCESS_TOKEN}",
        "Bearer fresh-token",
    ]
