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
from support.processor import fixture_body, has_inbound, inbound_item, items_by_key, sqs_event
from wacloud.table.store import ConversationStore
from wacloud.webhook.envelope import PayloadPointer
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

TEXT_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTk4MkQ5RTNFQjk5NkY1NTlFNgA="


def store_of(stack: LocalStack) -> ConversationStore:
    return ConversationStore(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )


@pytest.fixture
def processor(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("ProcessorFunction")


def test_sample_sqs_event_stores_the_text_message(processor: LocalFunction, stack: LocalStack) -> None:
    event = load_event("sqs/webhook_message_text.json")
    assert processor.invoke(event) == {"batchItemFailures": []}
    items = items_by_key(stack)
    message = inbound_item(items, TEXT_WAMID)
    assert message["pk"] == "CONTACT#16505551234"
    assert message["type"] == "text"
    assert message["name"] == "Kerry Fisher"
    (view,) = store_of(stack).conversation("16505551234")
    assert json.loads(message["raw"])["text"]["body"] == view["text"]
    # The profile is read from the message: no profile item is written for it.
    assert ("CONTACT#16505551234", "PROFILE") not in items
    profile = store_of(stack).profile("16505551234")
    assert profile is not None
    assert profile["profile_name"] == "Kerry Fisher"
    assert profile["last_inbound_wamid"] == TEXT_WAMID
    # Nor is the body archived (RawArchive: exceptions): the message item holds all of it.
    assert not [pk for pk, _ in items if pk.startswith("RAW#")]
    assert set(items) == {(message["pk"], message["sk"])}


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
        assert has_inbound(items, wamid)
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


# ------------------------------------------------------------------ one bad update, not the POST
def location_batch() -> dict[str, Any]:
    """A POST of two location messages, a status and a template event: four updates."""
    payload: dict[str, Any] = json.loads(fixture_body("message_location.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    second = copy.deepcopy(value["messages"][0])
    second.update(id="wamid.LOCATION2", timestamp="1763700330")
    value["messages"].append(second)
    value["statuses"] = json.loads(fixture_body("status_read.json"))["entry"][0]["changes"][0]["value"][
        "statuses"
    ]
    payload["entry"].append(json.loads(fixture_body("field_message_template_status_update.json"))["entry"][0])
    return payload


def first_message(payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


def spoil_latitude(payload: dict[str, Any]) -> str:
    first_message(payload)["location"]["latitude"] = "north-ish"
    return "entry[0].changes[0].value.messages[0]"


def spoil_price(payload: dict[str, Any]) -> str:
    order = json.loads(fixture_body("message_order.json"))["entry"][0]["changes"][0]["value"]["messages"][0]
    order["order"]["product_items"][0]["item_price"] = "nineteen ninety-nine"
    payload["entry"][0]["changes"][0]["value"]["messages"][0] = order
    return "entry[0].changes[0].value.messages[0]"


def spoil_status_timestamp(payload: dict[str, Any]) -> str:
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = "2025-11-21T04:46:40+00:00"
    return "entry[0].changes[0].value.statuses[0]"


def spoil_contact(payload: dict[str, Any]) -> str:
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"] = "Kerry"
    return "entry[0].changes[0].value.contacts[0]"


def spoil_entry(payload: dict[str, Any]) -> str:
    payload["entry"][1] = ["not", "an", "entry"]
    return "entry[1]"


@pytest.mark.parametrize(
    ("spoil", "kind", "left"),
    [
        (spoil_latitude, "message", {"messages": 1, "statuses": 1, "events": 1}),
        (spoil_price, "message", {"messages": 1, "statuses": 1, "events": 1}),
        (spoil_status_timestamp, "status", {"messages": 2, "statuses": 0, "events": 1}),
        (spoil_contact, "contact", {"messages": 2, "statuses": 1, "events": 1}),
        (spoil_entry, "entry", {"messages": 2, "statuses": 1, "events": 0}),
    ],
)
def test_an_update_that_cannot_be_typed_is_kept_alone_and_the_rest_stored(
    processor: LocalFunction,
    stack: LocalStack,
    spoil: Callable[[dict[str, Any]], str],
    kind: str,
    left: dict[str, int],
) -> None:
    payload = location_batch()
    path = spoil(payload)
    body = json.dumps(payload)
    digest = hashlib.sha256(body.encode()).hexdigest()

    assert processor.invoke(sqs_event(body, fixture_body("message_text.json"))) == {"batchItemFailures": []}

    items = items_by_key(stack)
    untyped = items[(f"RAW#{digest}", f"UNTYPED#{path}")]
    assert (untyped["kind"], untyped["path"]) == (kind, path)
    assert untyped["error"]  # says what the models refused, e.g. "location.latitude: Input should be ..."
    assert json.loads(untyped["raw"]) == eval_path(json.loads(body), path)
    assert items[(f"RAW#{digest}", "RAW")]["untyped"] == 1
    stored = {
        "messages": sum(1 for pk, sk in items if pk.startswith("CONTACT#") and sk.startswith("MSG#"))
        - 1,  # the text message
        "statuses": sum(1 for _, sk in items if sk.startswith("STATUS#")),
        "events": sum(1 for pk, _ in items if pk.startswith("EVENT#")),
    }
    assert stored == left
    assert has_inbound(items, TEXT_WAMID)  # the batch's other record, untouched


def eval_path(document: Any, path: str) -> Any:
    """The part of a JSON document at a path like ``entry[0].changes[1].value.messages[3]``."""
    for step in path.replace("[", ".").replace("]", "").split("."):
        document = document[int(step)] if step.isdigit() else document[step]
    return document


def test_missing_optional_envelope_fields_never_reject_a_payload(
    processor: LocalFunction, stack: LocalStack
) -> None:
    payload = json.loads(fixture_body("message_text.json"))
    del payload["object"]
    del payload["entry"][0]["id"]
    del payload["entry"][0]["changes"][0]["value"]["metadata"]
    del payload["entry"][0]["changes"][0]["value"]["messaging_product"]

    assert processor.invoke(sqs_event(json.dumps(payload))) == {"batchItemFailures": []}

    message = inbound_item(items_by_key(stack), TEXT_WAMID)
    (view,) = store_of(stack).conversation("16505551234")
    assert view["text"] == "Hi! Is my order #4521 on its way?"
    assert not {"phone_number_id", "display_phone_number", "entry_id"} & set(message)
    assert not [pk for pk, sk in items_by_key(stack) if sk.startswith("UNTYPED#")]


# ------------------------------------------------------------------ bodies that are no webhook
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "not JSON: Expecting value at line 1 column 1"),
        (
            '{"object": "whatsapp_business_account", "entry": "not a list"}',
            "not a webhook: entry is a string, not a list",
        ),
        ("[1, 2, 3]", "not a webhook: the JSON is a list, not an object"),
        ('{"hello": "world"}', "not a webhook: a JSON object without entry or object"),
    ],
)
def test_a_body_that_is_not_a_webhook_is_rejected_once_and_not_retried(
    processor: LocalFunction, stack: LocalStack, body: str, reason: str
) -> None:
    event = sqs_event(fixture_body("message_text.json"), body, fixture_body("status_read.json"))

    assert processor.invoke(event) == {"batchItemFailures": []}
    # Meta delivers it again, in a new request: the same single record of it.
    assert processor.invoke(sqs_event(body, received_at_ms=1763700200000)) == {"batchItemFailures": []}

    items = items_by_key(stack)
    digest = hashlib.sha256(body.encode()).hexdigest()
    raw = items[(f"RAW#{digest}", "RAW")]
    assert raw["body"] == body
    assert raw["rejected"] == reason
    # Listed for operators by day of receipt (the earliest): wactl dlq list reads this index.
    assert (raw["gsi2pk"], raw["gsi2sk"]) == ("REJECTED#2025-11-21", f"1763700100000#{digest}")
    # An earlier receipt, handed over last: its archive replaces the other, and is rejected too.
    assert processor.invoke(sqs_event(body, received_at_ms=1763600000000)) == {"batchItemFailures": []}
    raw = items_by_key(stack)[(f"RAW#{digest}", "RAW")]
    assert (raw["rejected"], raw["gsi2pk"], raw["gsi2sk"]) == (
        reason,
        "REJECTED#2025-11-20",
        f"1763600000000#{digest}",
    )
    assert [key for key in items if key[0] == f"RAW#{digest}"] == [(f"RAW#{digest}", "RAW")]
    assert has_inbound(items, TEXT_WAMID)
    assert any(pk.startswith("MSG#") and sk.startswith("STATUS#") for pk, sk in items)


# ------------------------------------------------------------------ timestamps
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("-86400", 0),
        ("1763700320000", 9_999_999_999),
        ("99999999999", 9_999_999_999),
        ("1763700320", 1763700320),
    ],
)
def test_absurd_timestamps_are_clamped_for_keys_and_kept_as_sent(
    processor: LocalFunction, stack: LocalStack, sent: str, kept: int
) -> None:
    payload = json.loads(fixture_body("message_text.json"))
    first_message(payload)["timestamp"] = sent
    status = json.loads(fixture_body("status_read.json"))
    status["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = sent

    assert processor.invoke(sqs_event(json.dumps(payload), json.dumps(status))) == {"batchItemFailures": []}

    items = items_by_key(stack)
    message = inbound_item(items, TEXT_WAMID)
    assert message["sk"] == f"MSG#{kept:010d}#{TEXT_WAMID}"
    assert json.loads(message["raw"])["timestamp"] == sent
    (history,) = [item for (pk, sk), item in items.items() if sk.startswith("STATUS#")]
    assert history["sk"] == f"STATUS#{kept:010d}#read"
    assert json.loads(history["raw"])["timestamp"] == sent


def test_keys_of_clamped_times_sort_in_time_order(processor: LocalFunction, stack: LocalStack) -> None:
    """Before clamping, -1 sorted after -2 and 10**10 before 9,999,999,999: string order broke."""
    times = ["-2", "-1", "0", "1763700000", "9999999999", "10000000000"]
    bodies = []
    for index, sent in enumerate(times):
        payload = json.loads(fixture_body("message_text.json"))
        first_message(payload).update(id=f"wamid.T{index}", timestamp=sent)
        bodies.append(json.dumps(payload))
    assert processor.invoke(sqs_event(*bodies)) == {"batchItemFailures": []}
    conversation = store_of(stack).conversation("16505551234")
    assert [item["wamid"] for item in conversation] == [f"wamid.T{index}" for index in (0, 1, 2, 3, 4, 5)]
    clamped = [0, 0, 0, 1763700000, 9_999_999_999, 9_999_999_999]
    assert [int(item["timestamp"]) for item in conversation] == clamped
    # The contact's last inbound message is the latest in time, whatever the digits sent.
    profile = store_of(stack).profile("16505551234")
    assert profile is not None
    assert profile["last_inbound_at"] == 9_999_999_999


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
    stored = inbound_item(items, unknown["id"])
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
    assert has_inbound(items, TEXT_WAMID)
    assert "body_s3" in items[(f"RAW#{digest}", "RAW")]


def test_a_pointer_to_a_missing_object_fails_the_record(processor: LocalFunction, stack: LocalStack) -> None:
    pointer = PayloadPointer(stack.bucket_names["PayloadBucket"], "inbound/missing.json", 10, "0" * 64)
    event = sqs_event(pointer.to_json())
    event["Records"][0]["messageAttributes"]["payload_location"]["stringValue"] = "s3"
    assert len(processor.invoke(event)["batchItemFailures"]) == 1
