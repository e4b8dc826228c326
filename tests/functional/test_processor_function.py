"""The processor function through its real entry point: SQS events as Lambda delivers them."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from support.aws import REGION, table_items
from wacloud.webhook.envelope import PayloadPointer
from walocal.events import EVENTS_DIR, load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

TEXT_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTk4MkQ5RTNFQjk5NkY1NTlFNgA="


@pytest.fixture
def processor(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("ProcessorFunction")


def sqs_event(*bodies: bytes | str, received_at_ms: int = 1763700100000) -> dict[str, Any]:
    """An SQS event with one record per body, shaped like the sample in events/sqs/."""
    template = load_event("sqs/webhook_message_text.json")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        record["messageId"] = f"00000000-0000-4000-8000-{index:012d}"
        record["body"] = text
        record["md5OfBody"] = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SQS's checksum)
        record["messageAttributes"]["received_at_ms"]["stringValue"] = str(received_at_ms)
        records.append(record)
    return {"Records": records}


def fixture_body(name: str) -> bytes:
    return (EVENTS_DIR / "webhooks" / name).read_bytes()


def items_by_key(stack: LocalStack) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["pk"], item["sk"]): item for item in table_items(stack)}


def test_sample_sqs_event_stores_the_text_message(processor: LocalFunction, stack: LocalStack) -> None:
    event = load_event("sqs/webhook_message_text.json")
    assert processor.invoke(event) == {"batchItemFailures": []}
    items = items_by_key(stack)
    message = items[(f"MSG#{TEXT_WAMID}", "MESSAGE")]
    assert message["direction"] == "inbound"
    assert message["type"] == "text"
    assert message["wa_id"] == "16505551234"
    assert message["gsi1pk"] == "CONTACT#16505551234"
    assert json.loads(message["raw"])["text"]["body"] == message["text"]
    profile = items[("CONTACT#16505551234", "PROFILE")]
    assert profile["profile_name"] == "Kerry Fisher"
    assert profile["last_inbound_wamid"] == TEXT_WAMID
    body = event["Records"][0]["body"].encode()
    raw = items[(f"RAW#{hashlib.sha256(body).hexdigest()}", "RAW")]
    assert raw["body"] == event["Records"][0]["body"]
    assert raw["expires_at"] == 1795338902 + 30 * 86_400


def test_the_same_payload_twice_gives_the_same_table(processor: LocalFunction, stack: LocalStack) -> None:
    event = load_event("sqs/webhook_message_text.json")
    processor.invoke(event)
    once = table_items(stack)
    processor.invoke(event)
    processor.invoke(sqs_event(event["Records"][0]["body"], received_at_ms=1795338999999))
    assert table_items(stack) == once


def test_every_update_of_a_batch_is_stored(processor: LocalFunction, stack: LocalStack) -> None:
    payload = json.loads(fixture_body("batch_mixed.json"))
    assert processor.invoke(sqs_event(fixture_body("batch_mixed.json"))) == {"batchItemFailures": []}
    items = items_by_key(stack)
    wamids = [
        message["id"]
        for entry in payload["entry"]
        for change in entry["changes"]
        for message in change["value"].get("messages", [])
    ]
    statuses = [
        status
        for entry in payload["entry"]
        for change in entry["changes"]
        for status in change["value"].get("statuses", [])
    ]
    assert len(wamids) == 3
    assert len(statuses) == 5
    for wamid in wamids:
        assert (f"MSG#{wamid}", "MESSAGE") in items
    for status in statuses:
        key = (f"MSG#{status['id']}", f"STATUS#{int(status['timestamp']):010d}#{status['status']}")
        assert key in items
    assert any(pk.startswith("EVENT#") for pk, _ in items)


def test_statuses_never_regress_and_failed_is_kept(processor: LocalFunction, stack: LocalStack) -> None:
    def status_payload(status: str, timestamp: int, errors: list[dict[str, Any]] | None = None) -> str:
        payload = json.loads(fixture_body("status_read.json"))
        entry = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
        entry.update(id="wamid.OUT1", status=status, timestamp=str(timestamp))
        if errors:
            entry["errors"] = errors
        return json.dumps(payload)

    processor.invoke(sqs_event(status_payload("read", 1763700300)))
    processor.invoke(sqs_event(status_payload("delivered", 1763700200), status_payload("sent", 1763700100)))
    message = items_by_key(stack)[("MSG#wamid.OUT1", "MESSAGE")]
    assert message["status"] == "read"
    history = [sk for pk, sk in items_by_key(stack) if pk == "MSG#wamid.OUT1" and sk.startswith("STATUS#")]
    assert len(history) == 3

    failure = [{"code": 131026, "title": "Message undeliverable"}]
    processor.invoke(sqs_event(status_payload("failed", 1763700400, failure)))
    processor.invoke(sqs_event(status_payload("delivered", 1763700500)))
    message = items_by_key(stack)[("MSG#wamid.OUT1", "MESSAGE")]
    assert message["status"] == "failed"
    assert json.loads(message["status_errors"])[0]["code"] == 131026
    assert message["gsi2pk"].startswith("FAILED#")


def test_a_bad_record_fails_alone_and_its_body_is_archived(
    processor: LocalFunction, stack: LocalStack
) -> None:
    bad = '{"object": "whatsapp_business_account", "entry": "not a list"}'
    event = sqs_event(fixture_body("message_text.json"), bad, fixture_body("status_read.json"))
    result = processor.invoke(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    items = items_by_key(stack)
    assert (f"MSG#{TEXT_WAMID}", "MESSAGE") in items
    assert (f"RAW#{hashlib.sha256(bad.encode()).hexdigest()}", "RAW") in items
    assert any(pk.startswith("MSG#") and sk.startswith("STATUS#") for pk, sk in items)


def test_not_json_at_all_fails_the_record(processor: LocalFunction, stack: LocalStack) -> None:
    event = sqs_event("this is not json")
    assert processor.invoke(event)["batchItemFailures"] == [
        {"itemIdentifier": event["Records"][0]["messageId"]}
    ]


def test_unknown_types_fields_and_contactless_statuses_are_kept(
    processor: LocalFunction, stack: LocalStack
) -> None:
    event = sqs_event(
        fixture_body("message_unknown.json"),
        fixture_body("field_message_template_status_update.json"),
        fixture_body("status_delivered_business_initiated.json"),
    )
    assert processor.invoke(event) == {"batchItemFailures": []}
    items = items_by_key(stack)
    unknown = json.loads(fixture_body("message_unknown.json"))["entry"][0]["changes"][0]["value"]["messages"][
        0
    ]
    stored = items[(f"MSG#{unknown['id']}", "MESSAGE")]
    assert stored["type"] == unknown["type"]
    assert json.loads(stored["raw"]) == unknown
    assert any(pk == "EVENT#message_template_status_update" for pk, _ in items)
    status = json.loads(fixture_body("status_delivered_business_initiated.json"))["entry"][0]["changes"][0]
    assert "contacts" not in status["value"]
    wamid = status["value"]["statuses"][0]["id"]
    assert items[(f"MSG#{wamid}", "MESSAGE")]["status"] == "delivered"


def test_payloads_in_the_bucket_are_read_through_their_pointer(
    processor: LocalFunction, stack: LocalStack, tmp_path: Path
) -> None:
    body = fixture_body("message_text.json")
    bucket = stack.bucket_names["PayloadBucket"]
    digest = hashlib.sha256(body).hexdigest()
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=bucket, Key=f"inbound/x/{digest}.json", Body=body
    )
    event = sqs_event(PayloadPointer(bucket, f"inbound/x/{digest}.json", len(body), digest).to_json())
    event["Records"][0]["messageAttributes"]["payload_location"]["stringValue"] = "s3"
    assert processor.invoke(event) == {"batchItemFailures": []}
    items = items_by_key(stack)
    assert (f"MSG#{TEXT_WAMID}", "MESSAGE") in items
    assert "body_s3" in items[(f"RAW#{digest}", "RAW")]


def test_a_pointer_to_a_missing_object_fails_the_record(processor: LocalFunction, stack: LocalStack) -> None:
    pointer = PayloadPointer(stack.bucket_names["PayloadBucket"], "inbound/missing.json", 10, "0" * 64)
    event = sqs_event(pointer.to_json())
    event["Records"][0]["messageAttributes"]["payload_location"]["stringValue"] = "s3"
    assert len(processor.invoke(event)["batchItemFailures"]) == 1
