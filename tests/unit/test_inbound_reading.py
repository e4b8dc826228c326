"""Reading a POST update by update: what cannot be typed is set aside alone, with why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from support.paths import EVENTS
from wacloud.meta.inbound import (
    MAX_TIMESTAMP,
    NotAWebhookError,
    ReadPayload,
    WebhookPayload,
    iter_messages,
    iter_statuses,
    read_payload,
)

FIXTURES = sorted((EVENTS / "webhooks").glob("*.json"))
Payload = dict[str, Any]


def mixed() -> Payload:
    payload: Payload = json.loads((EVENTS / "webhooks" / "batch_mixed.json").read_text())
    return payload


def value_of(payload: Payload, entry: int = 0, change: int = 0) -> dict[str, Any]:
    value: dict[str, Any] = payload["entry"][entry]["changes"][change]["value"]
    return value


def read(payload: Payload) -> ReadPayload:
    return read_payload(json.dumps(payload).encode())


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_every_fixture_reads_whole_and_as_the_strict_models_do(path: Path) -> None:
    body = path.read_bytes()
    result = read_payload(body)
    assert result.untyped == []
    assert result.payload == WebhookPayload.model_validate_json(body)


def spoil_message(payload: Payload) -> str:
    value_of(payload)["messages"][0]["timestamp"] = "yesterday"
    return "entry[0].changes[0].value.messages[0]"


def spoil_status(payload: Payload) -> str:
    statuses_at = next(
        (e, c)
        for e, entry in enumerate(payload["entry"])
        for c, change in enumerate(entry["changes"])
        if "statuses" in change["value"]
    )
    value_of(payload, *statuses_at)["statuses"][1]["id"] = {"not": "an id"}
    return f"entry[{statuses_at[0]}].changes[{statuses_at[1]}].value.statuses[1]"


def spoil_metadata(payload: Payload) -> str:
    value_of(payload)["metadata"] = "the business"
    return "entry[0].changes[0].value.metadata"


def spoil_messages_list(payload: Payload) -> str:
    value_of(payload)["messages"] = {"0": "not a list"}
    return "entry[0].changes[0].value.messages"


def spoil_change(payload: Payload) -> str:
    del payload["entry"][0]["changes"][0]["field"]
    return "entry[0].changes[0]"


def spoil_envelope_field(payload: Payload) -> str:
    value_of(payload)["messaging_product"] = ["whatsapp"]
    return "entry[0].changes[0].value.messaging_product"


def spoil_long_id(payload: Payload) -> str:
    value_of(payload)["messages"][0]["id"] = "wamid." + "A" * 300  # too long for a table key
    return "entry[0].changes[0].value.messages[0]"


@pytest.mark.parametrize(
    ("spoil", "kind", "messages_lost", "statuses_lost"),
    [
        (spoil_message, "message", 1, 0),
        (spoil_status, "status", 0, 1),
        (spoil_metadata, "metadata", 0, 0),
        (spoil_messages_list, "messages", 3, 0),  # all three are in that change
        (spoil_change, "change", 3, 0),
        (spoil_envelope_field, "messaging_product", 0, 0),
        (spoil_long_id, "message", 1, 0),
    ],
)
def test_a_part_that_cannot_be_typed_is_set_aside_alone(
    spoil: Callable[[Payload], str], kind: str, messages_lost: int, statuses_lost: int
) -> None:
    whole = read(mixed())
    payload = mixed()
    path = spoil(payload)
    with pytest.raises(ValidationError):  # the strict models refuse the whole POST
        WebhookPayload.model_validate(payload)

    result = read(payload)

    (part,) = result.untyped
    assert (part.path, part.kind) == (path, kind)
    assert part.error
    assert len(list(iter_messages(result.payload))) == len(list(iter_messages(whole.payload))) - messages_lost
    assert len(list(iter_statuses(result.payload))) == len(list(iter_statuses(whole.payload))) - statuses_lost


def test_a_part_set_aside_is_kept_as_sent_and_its_error_names_no_value() -> None:
    payload = mixed()
    message = value_of(payload)["messages"][0]
    message["timestamp"] = "secret-looking-value"
    (part,) = read(payload).untyped
    assert part.raw == message
    assert "secret-looking-value" not in part.error
    assert part.error.startswith("timestamp: Input should be a valid integer")


def test_missing_envelope_fields_are_optional_and_numbers_become_ids() -> None:
    payload = mixed()
    del payload["object"]
    del payload["entry"][0]["id"]
    value = value_of(payload)
    del value["metadata"]
    value["messages"][0]["from"] = 16505551234
    result = read(payload)
    assert result.untyped == []
    assert result.payload.object is None
    assert result.payload.entry[0].id is None
    (first_value, first), *_ = iter_messages(result.payload)
    assert first_value.metadata is None
    assert first.from_ == "16505551234"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON: Expecting value at line 1 column 1"),
        (
            b'{"object": "whatsapp_business_account",',
            "not JSON: Expecting property name enclosed in double quotes",
        ),
        (b"\xff\xfe{}", "not JSON"),
        (b"null", "not a webhook: the JSON is null, not an object"),
        (b'"a string"', "not a webhook: the JSON is a string, not an object"),
        (b"{}", "not a webhook: a JSON object without entry or object"),
        (b'{"entry": {"id": "1"}}', "not a webhook: entry is an object, not a list"),
    ],
)
def test_a_body_that_is_not_a_webhook_is_refused_with_why(body: bytes, reason: str) -> None:
    with pytest.raises(NotAWebhookError) as refused:
        read_payload(body)
    assert str(refused.value).startswith(reason)


def test_a_webhook_without_updates_is_one() -> None:
    assert read_payload(b'{"object": "whatsapp_business_account"}').payload.entry == []
    assert read_payload(b'{"entry": []}').untyped == []


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("-5", 0),
        ("0", 0),
        ("1763700000", 1763700000),
        ("1763700000000", MAX_TIMESTAMP),
        (10**10, MAX_TIMESTAMP),
    ],
)
def test_timestamps_are_clamped_and_raw_keeps_them(sent: str | int, kept: int) -> None:
    payload = mixed()
    value_of(payload)["messages"][0]["timestamp"] = sent
    (_, message), *_ = iter_messages(read(payload).payload)
    assert message.timestamp == kept
    assert message.raw["timestamp"] == sent
