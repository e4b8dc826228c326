"""The processor against any record SQS could hand it: each is stored or preserved raw, or
reported as failed (so the queue keeps it); none is lost, and the handler never raises."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.aws import REGION
from support.fuzzing import json_values, mutated
from wacloud.meta.inbound import NotAWebhookError, read_payload
from walocal.events import EVENTS_DIR, load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

WEBHOOKS = [
    json.loads(path.read_text(encoding="utf-8")) for path in sorted((EVENTS_DIR / "webhooks").glob("*.json"))
]


@st.composite
def bodies(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(max_size=200))  # anything at all
    if kind == 1:
        return json.dumps(draw(json_values))  # JSON, rarely a webhook
    # A webhook with a few values changed or removed.
    return json.dumps(draw(mutated(copy.deepcopy(draw(st.sampled_from(WEBHOOKS))), changes=4)))


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    template = load_event("sqs/webhook_message_text.json")["Records"][0]
    result = []
    for index in range(draw(st.integers(1, 3))):
        record = copy.deepcopy(template)
        record["messageId"] = f"fuzz-{index}-{draw(st.integers(0, 10**9))}"
        record["body"] = draw(bodies())
        record["md5OfBody"] = hashlib.md5(record["body"].encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324
        attributes = record["messageAttributes"]
        attributes["received_at_ms"]["stringValue"] = draw(
            st.sampled_from(["1763700100000", "0", "-5", "99999999999999999", "soon", ""])
        )
        attributes["payload_location"] = {
            "stringValue": draw(st.sampled_from(["inline", "s3", "elsewhere"])),
            "dataType": "String",
        }
        result.append(record)
    return result


@pytest.fixture
def processor(load_function: Callable[..., LocalFunction]) -> LocalFunction:
    """With every POST archived (``RawArchive: all``): each record is archived or reported."""
    return load_function("ProcessorFunction", RAW_ARCHIVE="all")


@pytest.fixture
def lean_processor(load_function: Callable[..., LocalFunction]) -> LocalFunction:
    """As deployed by default (``RawArchive: exceptions``)."""
    return load_function("ProcessorFunction")


def fully_typed(body: str) -> bool:
    """A webhook whose every part the models type: its typed items hold all of it."""
    try:
        read = read_payload(body.encode("utf-8", "surrogatepass"))
    except NotAWebhookError:
        return False
    return not read.untyped


def archived(stack: LocalStack, body: str) -> bool:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    return "Item" in table.get_item(Key={"pk": f"RAW#{digest}", "sk": "RAW"})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=records())
def test_every_record_is_preserved_or_reported_never_lost(
    processor: LocalFunction, stack: LocalStack, batch: list[dict[str, Any]]
) -> None:
    answer = processor.invoke({"Records": batch})
    reported = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
    assert reported <= {record["messageId"] for record in batch}
    for record in batch:
        inline = record["messageAttributes"]["payload_location"]["stringValue"] != "s3"
        kept = inline and archived(stack, record["body"])
        assert kept or record["messageId"] in reported, record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=records())
def test_without_the_full_archive_a_record_is_archived_typed_in_full_or_reported(
    lean_processor: LocalFunction, stack: LocalStack, batch: list[dict[str, Any]]
) -> None:
    answer = lean_processor.invoke({"Records": batch})
    reported = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
    for record in batch:
        inline = record["messageAttributes"]["payload_location"]["stringValue"] != "s3"
        kept = inline and (archived(stack, record["body"]) or fully_typed(record["body"]))
        assert kept or record["messageId"] in reported, record
