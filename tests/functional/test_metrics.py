"""Metrics through the functions' real entry points: the EMF lines each handler writes to its log."""

from __future__ import annotations

import copy
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.emf import counts, data, emf_lines
from support.fake_graph import FakeGraphServer, graph_error
from support.processor import fixture_body, sqs_event
from support.sender_events import TO, open_window, store
from wacloud.core import metrics as metrics_module
from wacloud.core.observability import logger
from wacloud.meta.signature import sign
from wacloud.table.facets import consent_facet
from wacloud.table.keys import PROFILE_SK, contact_pk
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_APP_SECRET

TEXT = {"to": TO, "type": "text", "text": {"body": "hi"}}


def signed_post(body: bytes, secret: str = LOCAL_APP_SECRET) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    event["body"] = body.decode("utf-8")
    event["headers"]["x-hub-signature-256"] = sign(body, secret)
    return event


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """The functions' log as Lambda collects it: what their logger's handler writes (metrics too)."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def invoke(function: LocalFunction, event: Any, log: io.StringIO) -> tuple[Any, str]:
    log.seek(0)
    log.truncate()
    answer = function.invoke(event)
    return answer, log.getvalue()


# ---------------------------------------------------------------- webhook


def test_webhook_counts_received_and_rejected_posts(
    load_function: Callable[[str], LocalFunction], log: io.StringIO
) -> None:
    webhook = load_function("WebhookFunction")
    answer, out = invoke(webhook, signed_post(fixture_body("message_text.json")), log)
    assert answer["statusCode"] == 200
    assert counts(out) == {("WebhooksReceived",): 1}
    [point] = data(out)
    assert point.namespace == "WhatsAppCloud"
    assert dict(point.dimensions) == {"service": "whatsapp-cloud"}

    answer, out = invoke(webhook, signed_post(fixture_body("message_text.json"), "forged"), log)
    assert answer["statusCode"] == 401
    assert counts(out) == {("WebhooksRejected", "reason=signature"): 1}

    unreadable = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    unreadable["isBase64Encoded"] = True
    unreadable["body"] = "%%% not base64 %%%"
    answer, out = invoke(webhook, unreadable, log)
    assert answer["statusCode"] == 400
    assert counts(out) == {("WebhooksRejected", "reason=request"): 1}


def test_webhook_answers_even_when_metrics_cannot_be_written(
    load_function: Callable[[str], LocalFunction],
    log: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    webhook = load_function("WebhookFunction")

    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("log closed")

    monkeypatch.setattr(metrics_module.metrics, "_stream", Closed())
    monkeypatch.setattr(logging, "raiseExceptions", False)  # the warning's own write fails too
    answer, out = invoke(webhook, signed_post(fixture_body("message_text.json")), log)
    assert answer["statusCode"] == 200
    assert emf_lines(out) == []
    assert "metrics not written" in [record.getMessage() for record in caplog.records]


class Unprintable:
    def __str__(self) -> str:
        raise ValueError("no")


def test_metrics_that_cannot_be_recorded_or_serialized_are_dropped_not_raised() -> None:
    out = io.StringIO()
    recorder = metrics_module.Metrics(namespace="Test", service="svc", stream=out)
    recorder.count("Bad", reason=Unprintable())  # type: ignore[arg-type]
    recorder.timing("Bad", "slow")  # type: ignore[arg-type]
    recorder.flush()
    assert emf_lines(out.getvalue()) == []
    recorder.count("Good", 2, reason="x")
    recorder.flush()
    assert counts(out.getvalue()) == {("Good", "reason=x"): 2}


# ---------------------------------------------------------------- processor


def test_processor_counts_updates_by_kind_and_what_the_models_do_not_know(
    load_function: Callable[[str], LocalFunction], log: io.StringIO
) -> None:
    processor = load_function("ProcessorFunction")
    event = sqs_event(
        fixture_body("message_text.json"),
        fixture_body("batch_unknown_type_field_and_status.json"),
        fixture_body("status_failed.json"),
        fixture_body("field_account_update.json"),
        b"not json at all",
    )
    answer, out = invoke(processor, event, log)
    assert answer == {"batchItemFailures": []}
    found = counts(out)
    assert found[("WebhooksProcessed",)] == 4
    assert found[("WebhooksRejected", "reason=parse")] == 1
    assert found[("MessagesStored", "type=text")] == 1
    assert found[("MessagesStored", "type=unknown_type")] == 1
    assert found[("UnknownMessageTypes",)] == 1
    assert found[("UnknownFields",)] >= 1
    assert found[("StatusesStored", "status=sent")] == 1
    assert found[("StatusesStored", "status=failed")] == 1
    failed = json.loads(fixture_body("status_failed.json"))
    code = failed["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]["code"]
    assert found[("StatusErrors", f"code={code}")] == 1
    assert found[("OtherUpdatesStored",)] >= 1
    # One line per set of dimensions, each a valid EMF document, for the whole batch.
    lines = emf_lines(out)
    dimension_sets = [
        tuple((name, line[name]) for name in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])
        for line in lines
    ]
    assert len(dimension_sets) == len(set(dimension_sets))


def test_processor_counts_a_record_that_fails(
    load_function: Callable[..., LocalFunction], log: io.StringIO
) -> None:
    processor = load_function("ProcessorFunction", TABLE_NAME="no-such-table")
    answer, out = invoke(processor, sqs_event(fixture_body("message_text.json")), log)
    assert len(answer["batchItemFailures"]) == 1
    assert counts(out)[("WebhooksFailed",)] == 1


# ---------------------------------------------------------------- sender
def sends(out: str) -> Counter[tuple[str, ...]]:
    """The sender's counts but its missed turns: whether the instance got the CPU in time for its
    turn on the send line depends on how busy the machine is, not on the request."""
    found = counts(out)
    found.pop(("SendTurnsMissed",), None)
    return found


def test_sender_counts_results_meta_errors_and_retries(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack, log: io.StringIO
) -> None:
    open_window(stack)
    graph.fake.script.append(graph_error(130429, "Rate limit hit"))
    answer, out = invoke(sender, TEXT, log)
    assert answer["results"][0]["status"] == "accepted"
    assert sends(out) == {
        ("MessagesSent", "result=accepted"): 1,
        ("GraphApiErrors", "code=130429"): 1,
        ("SendRetries",): 1,
    }

    # Someone who never wrote: refused by the 24-hour rule before Meta is asked.
    answer, out = invoke(sender, {**TEXT, "to": "16505550199"}, log)
    assert answer["results"][0]["status"] == "failed"
    assert sends(out) == {("MessagesSent", "result=failed"): 1, ("SendFailures", "code=131047"): 1}

    graph.fake.script.append(graph_error(131026, "Message undeliverable"))
    answer, out = invoke(sender, TEXT, log)
    assert sends(out) == {
        ("MessagesSent", "result=failed"): 1,
        ("SendFailures", "code=131026"): 1,
        ("GraphApiErrors", "code=131026"): 1,
    }


def test_sender_counts_rate_limit_waits(
    load_function: Callable[..., LocalFunction],
    graph: FakeGraphServer,
    stack: LocalStack,
    log: io.StringIO,
) -> None:
    sender = load_function("SenderFunction", GRAPH_API_URL=graph.url, SEND_RATE_PER_SECOND="1")
    open_window(stack)
    request = {"to": TO, "type": "text", "text": {"body": "hi"}}
    answer, out = invoke(sender, {"messages": [request, request]}, log)
    assert [result["status"] for result in answer["results"]] == ["accepted", "accepted"]
    assert counts(out)[("RateLimitWaits",)] == 1
    [wait] = [point for point in data(out) if point.name == "RateLimitWaitTime"]
    assert wait.unit == "Milliseconds"
    assert wait.value > 0


def test_sender_counts_the_reminder_fanout(
    sender: LocalFunction, stack: LocalStack, log: io.StringIO
) -> None:
    profiles = []
    for index, said in enumerate(["START", "START", "START", "STOP"]):
        wa_id = f"1555000000{index}"
        facet = consent_facet(1763700000, f"wamid.K{index}", said == "START", f"keyword:{said}")
        profiles.append(
            {
                "pk": contact_pk(wa_id),
                "sk": PROFILE_SK,
                "wa_id": wa_id,
                facet.key_attribute: facet.key,
                **facet.values,
            }
        )
    store(stack).put_items(profiles)
    schedule = {"source": "schedule", "job": "daily_reminder", "scheduled_time": "2027-03-14T09:00:00Z"}
    answer, out = invoke(sender, schedule, log)
    assert answer["enqueued"] == 3
    found = counts(out)
    assert found[("RemindersQueued",)] == 3
    assert found[("ReminderRunsFinished",)] == 1


# ---------------------------------------------------------------- publisher


def test_publisher_counts_events_by_detail_type(
    load_function: Callable[[str], LocalFunction], log: io.StringIO
) -> None:
    publisher = load_function("PublisherFunction")
    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": 1763700100,
            "SequenceNumber": "100",
            "Keys": {"pk": {"S": "CONTACT#16505551234"}, "sk": {"S": "MSG#1763700000#wamid.1"}},
            "NewImage": {
                "pk": {"S": "CONTACT#16505551234"},
                "sk": {"S": "MSG#1763700000#wamid.1"},
                "type": {"S": "text"},
                "raw": {"S": '{"text":{"body":"hi"},"type":"text"}'},
            },
        },
    }
    answer, out = invoke(publisher, {"Records": [record]}, log)
    assert answer == {"batchItemFailures": []}
    assert counts(out) == {("EventsPublished", "detail_type=WhatsApp Message Received"): 1}
