"""A stream batch published: events in order, and what failed reported so that nothing is lost."""

from __future__ import annotations

from typing import Any

from support.eventbridge import ScriptedEventBridge
from wacloud.events.publish import EventPublisher
from wacloud.events.stream_batch import publish_stream_batch


def inbound(n: int) -> dict[str, Any]:
    """A stream record of a contact's message stored for the first time (DynamoDB JSON, as Lambda sends)."""
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": 1763700100,
            "SequenceNumber": f"{100 + n}",
            "NewImage": {
                "pk": {"S": "CONTACT#16505551234"},
                "sk": {"S": f"MSG#1763700000#wamid.{n}"},
                "type": {"S": "text"},
                "raw": {"S": '{"text":{"body":"hi"},"type":"text"}'},
            },
        },
    }


def status_history(n: int) -> dict[str, Any]:
    """A change that means nothing to publish: a status webhook's own history item."""
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "SequenceNumber": f"{100 + n}",
            "NewImage": {"pk": {"S": "MSG#wamid.out"}, "sk": {"S": "STATUS#1763700000#sent"}},
        },
    }


def publisher(bridge: ScriptedEventBridge) -> EventPublisher:
    return EventPublisher(bridge, "bus", attempts=2, sleep=lambda _: None)


def test_every_change_is_published_in_order_and_nothing_is_reported() -> None:
    bridge = ScriptedEventBridge()
    records = [inbound(0), status_history(1), inbound(2)]
    assert publish_stream_batch({"Records": records}, publisher(bridge)) == {"batchItemFailures": []}
    assert len(bridge.published) == 2


def test_an_event_that_could_not_be_published_reports_its_record_for_retry() -> None:
    # Entry 1 (the record with sequence number 103) fails on both attempts.
    bridge = ScriptedEventBridge({1}, {0})
    records = [inbound(0), status_history(1), inbound(3), inbound(4)]
    answer = publish_stream_batch({"Records": records}, publisher(bridge))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "103"}]}


def test_a_record_that_cannot_be_read_is_reported_after_the_events_before_it() -> None:
    bridge = ScriptedEventBridge()
    poison = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "102", "NewImage": {"pk": {"Q": "?"}}}}
    answer = publish_stream_batch(
        {"Records": [inbound(0), inbound(1), poison, inbound(3)]}, publisher(bridge)
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "102"}]}
    assert len(bridge.published) == 2  # the two before it; the one after comes again with it
