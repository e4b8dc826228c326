"""What the processor stores, read back from the table's stream, is published as the right events:
once per change, never for a redelivery, never for a status going back."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest

from support.aws import REGION
from support.processor import METADATA, WABA_ID, fixture_body, sqs_event
from wacloud.events.details import detail_of
from wacloud.events.models import (
    AccountEvent,
    ContactUpdated,
    EventDetail,
    MediaStored,
    MessageReceived,
    PayloadRejected,
    StatusChanged,
)
from wacloud.events.stream_batch import table_change
from wacloud.table.items import OutboundRecord
from wacloud.table.media import MediaLedger, MediaRecord
from wacloud.table.store import ConversationStore
from wacloud.table.stream import TableChange, meanings
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

TEXT_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTk4MkQ5RTNFQjk5NkY1NTlFNgA="


@pytest.fixture
def processor(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("ProcessorFunction")


def published(stack: LocalStack) -> list[EventDetail]:
    """Every event the table's stream (the template's: new and old images) so far means, in order."""
    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=stack.table_names["MessagesTable"]
    )["Table"]
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    details: list[EventDetail] = []
    for shard in streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            committed_at = int(record["dynamodb"]["ApproximateCreationDateTime"].timestamp())
            meant = meanings(table_change(dict(record)))
            details += [detail_of(meaning, committed_at) for meaning in meant]
    return details


def _statuses(*steps: tuple[str, int]) -> str:
    statuses = [
        {
            "id": "wamid.OUT1",
            "status": status,
            "timestamp": str(timestamp),
            "recipient_id": "16505551234",
            "pricing": {"billable": True, "pricing_model": "PMP", "category": "utility"},
        }
        for status, timestamp in steps
    ]
    value = {"messaging_product": "whatsapp", "metadata": METADATA, "statuses": statuses}
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
        }
    )


def test_a_message_delivered_twice_is_received_once(processor: LocalFunction, stack: LocalStack) -> None:
    body = fixture_body("message_text.json")
    processor.invoke(sqs_event(body))
    processor.invoke(sqs_event(body, received_at_ms=1763700200000))
    (event,) = published(stack)
    assert isinstance(event, MessageReceived)
    assert (event.wamid, event.type, event.wa_id, event.name) == (
        TEXT_WAMID,
        "text",
        "16505551234",
        "Kerry Fisher",
    )
    assert event.text == event.message["text"]["body"]
    assert event.phone_number_id == METADATA["phone_number_id"]
    assert event.model_dump()["message"]["id"] == TEXT_WAMID


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        # Shuffled and duplicated, one per POST: the stored state went straight to read.
        ([[("read", 30)], [("sent", 10)], [("delivered", 20)], [("read", 30)]], [(None, "read")]),
        (
            [[("sent", 10)], [("delivered", 20)], [("sent", 10)], [("read", 30)]],
            [
                (None, "sent"),
                ("sent", "delivered"),
                ("delivered", "read"),
            ],
        ),
        # All in one POST: the store keeps the furthest, and only that move is news.
        ([[("sent", 10), ("read", 30), ("delivered", 20)]], [(None, "read")]),
        # A second read, later by Meta's clock, moves the stored time but not the status.
        ([[("read", 30)], [("read", 35)]], [(None, "read")]),
        (
            [[("delivered", 20)], [("failed", 40)], [("read", 30)]],
            [(None, "delivered"), ("delivered", "failed")],
        ),
    ],
)
def test_statuses_are_published_only_as_forward_moves(
    processor: LocalFunction,
    stack: LocalStack,
    arrivals: list[list[tuple[str, int]]],
    expected: list[tuple[str | None, str]],
) -> None:
    for steps in arrivals:
        processor.invoke(sqs_event(_statuses(*((status, 1763700000 + at) for status, at in steps))))
    events = published(stack)
    assert all(isinstance(event, StatusChanged) for event in events)
    moves = [(event.previous_status, event.status) for event in events if isinstance(event, StatusChanged)]
    assert moves == expected
    assert len({event.event_id for event in events}) == len(events)
    # Who it was for, on which business number, and what Meta said it costs, as of that status.
    for event in events:
        assert (event.wa_id, event.phone_number_id) == ("16505551234", METADATA["phone_number_id"])
        assert isinstance(event, StatusChanged)
        assert event.pricing == {"billable": True, "pricing_model": "PMP", "category": "utility"}


def test_the_event_id_is_the_same_for_the_same_change_in_another_table(
    processor: LocalFunction, stack: LocalStack
) -> None:
    processor.invoke(sqs_event(_statuses(("sent", 1763700010))))
    (first,) = published(stack)
    # The id depends on the change only: the same move of another copy of the message gets it too.
    again = detail_of(
        meanings(TableChange("MODIFY", {}, {"pk": "MSG#wamid.OUT1", "sk": "MESSAGE", "status": "sent"}))[0], 0
    )
    assert again.event_id == first.event_id


def test_consent_keywords_update_the_contact(processor: LocalFunction, stack: LocalStack) -> None:
    processor.invoke(sqs_event(fixture_body("message_text_stop.json")))
    processor.invoke(sqs_event(fixture_body("message_text_stop.json")))
    events = published(stack)
    contact = [event for event in events if isinstance(event, ContactUpdated)]
    assert [(event.change, event.reason) for event in contact] == [("opted_out", "keyword:STOP")]
    assert [type(event) for event in events].count(MessageReceived) == 1


def test_other_fields_are_account_events(processor: LocalFunction, stack: LocalStack) -> None:
    processor.invoke(sqs_event(fixture_body("field_message_template_status_update.json")))
    (event,) = published(stack)
    assert isinstance(event, AccountEvent)
    assert event.field == "message_template_status_update"
    assert event.entry_id == WABA_ID or event.entry_id
    assert event.value["event"]


def test_a_body_that_is_no_webhook_is_a_rejected_payload(processor: LocalFunction, stack: LocalStack) -> None:
    processor.invoke(sqs_event('{"hello": "world"}'))
    processor.invoke(sqs_event('{"hello": "world"}', received_at_ms=1763700300000))
    (event,) = published(stack)
    assert isinstance(event, PayloadRejected)
    assert event.reason.startswith("not a webhook")


def test_the_senders_record_after_its_first_status_is_no_new_move(
    processor: LocalFunction, stack: LocalStack
) -> None:
    processor.invoke(sqs_event(_statuses(("delivered", 1763700020))))
    store = ConversationStore(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )
    store.record_outbound(
        OutboundRecord(
            wamid="wamid.OUT1",
            wa_id="16505551234",
            kind="text",
            timestamp=1763700000,
            accepted_status="accepted",
            phone_number_id=METADATA["phone_number_id"],
            request={"type": "text", "text": {"body": "hello"}},
        )
    )
    processor.invoke(sqs_event(_statuses(("read", 1763700030))))
    events = [event for event in published(stack) if isinstance(event, StatusChanged)]
    assert [(event.previous_status, event.status) for event in events] == [
        (None, "delivered"),
        ("delivered", "read"),
    ]
    # Once the sender's record is there, the event says who the message went to.
    assert events[1].wa_id == "16505551234"


def test_a_message_from_an_ad_says_which(processor: LocalFunction, stack: LocalStack) -> None:
    processor.invoke(sqs_event(fixture_body("message_referral_ad.json")))
    (event,) = published(stack)
    assert isinstance(event, MessageReceived)
    assert event.referral is not None
    assert event.referral == event.message["referral"]
    assert event.referral["source_type"] == "ad"


def test_the_media_jobs_record_is_published_once_per_outcome(
    processor: LocalFunction, stack: LocalStack
) -> None:
    body = fixture_body("message_image.json")
    processor.invoke(sqs_event(body))
    message = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]
    wamid, timestamp = message["id"], int(message["timestamp"])
    ledger = MediaLedger(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )
    stored = MediaRecord(
        state="stored",
        kind="image",
        media_id=message["image"]["id"],
        recorded_at=1763700140,
        bucket="bucket",
        key="media/abc",
        size=1234,
        mime_type="image/jpeg",
        sha256="abc",
    )
    assert ledger.record("16505551234", timestamp, wamid, stored)
    # A job that runs again finds the media stored and changes nothing.
    assert not ledger.record("16505551234", timestamp, wamid, stored)
    # Meta redelivers the webhook: the message is put again, without the record. The record is
    # said again (for the media function to put back), and again once put back: the same event.
    processor.invoke(sqs_event(body, received_at_ms=1763700200000))
    assert ledger.restore("16505551234", timestamp, wamid, stored)
    assert not ledger.restore("16505551234", timestamp, wamid, stored)
    received, first, dropped, restored = published(stack)
    assert isinstance(received, MessageReceived)
    assert isinstance(first, MediaStored)
    assert first == dropped == restored
    assert first.model_dump(exclude_none=True) == {
        "event_id": first.event_id,
        "phone_number_id": "123456789012345",
        "wa_id": "16505551234",
        "timestamp": timestamp,
        "wamid": wamid,
        "type": "image",
        "state": "stored",
        "media_id": message["image"]["id"],
        "s3": {"bucket": "bucket", "key": "media/abc", "uri": "s3://bucket/media/abc"},
        "size": 1234,
        "mime_type": "image/jpeg",
        "sha256": "abc",
    }


def test_marketing_stops_and_resumes_are_contact_updates_once_each(
    processor: LocalFunction, stack: LocalStack
) -> None:
    processor.invoke(sqs_event(fixture_body("status_failed_marketing_opt_out.json")))
    processor.invoke(sqs_event(fixture_body("field_user_preferences_stop.json")))
    processor.invoke(sqs_event(fixture_body("field_user_preferences_resume.json")))
    # A redelivery of the resume, and a stop older than it arriving late: no change, no event.
    processor.invoke(
        sqs_event(fixture_body("field_user_preferences_resume.json"), received_at_ms=1763705600000)
    )
    late = json.loads(fixture_body("field_user_preferences_stop.json"))
    late["entry"][0]["changes"][0]["value"]["user_preferences"][0]["timestamp"] = 1763703300
    processor.invoke(sqs_event(json.dumps(late)))
    contact = [event for event in published(stack) if isinstance(event, ContactUpdated)]
    assert [(event.wa_id, event.change, event.reason, event.timestamp) for event in contact] == [
        ("16505551234", "marketing_stopped", "error:131050", 1763701360),
        ("16505551234", "marketing_stopped", "preference:stop", 1763703000),
        ("16505551234", "marketing_resumed", "preference:resume", 1763703600),
    ]
    assert len({event.event_id for event in contact}) == 3
    # The change of another field is published as such too, once per stored event.
    accounts = [event for event in published(stack) if isinstance(event, AccountEvent)]
    assert [event.field for event in accounts] == ["user_preferences"] * 3
