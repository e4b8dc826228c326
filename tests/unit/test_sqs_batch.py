"""The partial batch response of the SQS event sources: failed records reported, never raised."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from wacloud.core.sqs_batch import process_sqs_batch


def _event(*ids: str) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": message_id, "body": message_id, "eventSource": "aws:sqs"} for message_id in ids
        ]
    }


def _fail_on(*failing: str) -> Any:
    handled: list[str] = []

    def handle(record: dict[str, Any]) -> None:
        handled.append(record["messageId"])
        if record["messageId"] in failing:
            raise RuntimeError(f"secret detail of {record['body']}")

    handle.handled = handled  # type: ignore[attr-defined]
    return handle


def test_a_batch_that_succeeds_reports_no_failures() -> None:
    handler = _fail_on()
    assert process_sqs_batch(_event("a", "b"), handler) == {"batchItemFailures": []}
    assert handler.handled == ["a", "b"]


def test_failed_records_are_reported_in_order_and_the_others_still_handled() -> None:
    handler = _fail_on("a", "c")
    answer = process_sqs_batch(_event("a", "b", "c", "d"), handler)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}
    assert handler.handled == ["a", "b", "c", "d"]


def test_a_batch_whose_every_record_failed_is_reported_not_raised() -> None:
    answer = process_sqs_batch(_event("a", "b"), _fail_on("a", "b"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}


def test_an_empty_batch_reports_no_failures() -> None:
    assert process_sqs_batch({"Records": []}, _fail_on()) == {"batchItemFailures": []}


def test_each_failure_is_logged_with_its_message_id_and_type_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        process_sqs_batch(_event("a", "b"), _fail_on("b"))
    failures = [record for record in caplog.records if getattr(record, "sqs_message_id", None) == "b"]
    assert len(failures) == 1
    assert failures[0].levelno == logging.WARNING
    assert getattr(failures[0], "error", None) == "RuntimeError"
    assert not [record for record in caplog.records if getattr(record, "sqs_message_id", None) == "a"]
    assert "secret detail" not in caplog.text


def test_a_response_is_a_fresh_object_each_time() -> None:
    first = process_sqs_batch(_event("a"), _fail_on("a"))
    second = process_sqs_batch(_event("b"), _fail_on())
    assert first == {"batchItemFailures": [{"itemIdentifier": "a"}]}
    assert second == {"batchItemFailures": []}


def test_records_handled_concurrently_are_all_handled_and_failures_reported_in_batch_order() -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def handle(record: dict[str, Any]) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        if record["messageId"] in ("m1", "m4"):
            raise RuntimeError("no")

    answer = process_sqs_batch(_event("m0", "m1", "m2", "m3", "m4", "m5"), handle, concurrency=3)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m4"}]}
    assert most == 3
