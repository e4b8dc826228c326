"""PutEvents within EventBridge's limits, and failed entries retried until published or reported."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from support.eventbridge import ScriptedEventBridge
from wacloud.events.models import PayloadRejected, StatusChanged
from wacloud.events.publish import (
    MAX_ENTRIES,
    MAX_REQUEST_BYTES,
    EventPublisher,
    EventTooLargeError,
    batches,
    entry_of,
)


def status(n: int) -> StatusChanged:
    return StatusChanged(event_id=f"e{n}", timestamp=1763700000 + n, wamid=f"wamid.{n}", status="sent")


def test_entries_carry_source_type_time_and_the_detail() -> None:
    entry = entry_of(status(1), "bus")
    assert entry.request["Source"] == "whatsapp.cloud"
    assert entry.request["DetailType"] == "WhatsApp Message Status Changed"
    assert entry.request["EventBusName"] == "bus"
    assert entry.request["Time"].timestamp() == 1763700001
    assert json.loads(entry.request["Detail"])["wamid"] == "wamid.1"


def test_batches_keep_order_within_ten_entries_and_256_kb() -> None:
    entries = [entry_of(status(n), "bus", n) for n in range(23)]
    grouped = batches(entries)
    assert [len(batch) for batch in grouped] == [10, 10, 3]
    assert [entry.index for batch in grouped for entry in batch] == list(range(23))
    big = PayloadRejected(event_id="big", timestamp=1, sha256="0" * 64, reason="x" * 100_000)
    sized = batches([entry_of(big, "bus", n) for n in range(5)])
    assert [len(batch) for batch in sized] == [2, 2, 1]
    assert all(sum(entry.size for entry in batch) <= MAX_REQUEST_BYTES for batch in sized)
    assert MAX_ENTRIES == 10


def test_an_event_over_256_kb_is_refused_before_any_call() -> None:
    huge = PayloadRejected(event_id="huge", timestamp=1, sha256="0" * 64, reason="x" * 300_000)
    bridge = ScriptedEventBridge()
    with pytest.raises(EventTooLargeError, match="over 256 KB"):
        EventPublisher(bridge, "bus", sleep=lambda _: None).publish([huge])
    assert bridge.calls == []


def test_partially_failed_entries_are_sent_again_until_published() -> None:
    bridge = ScriptedEventBridge({1, 3}, {0})
    sleeps: list[float] = []
    failed = EventPublisher(bridge, "bus", sleep=sleeps.append).publish([status(n) for n in range(5)])
    assert failed == set()
    assert sorted(bridge.published) == [f"e{n}" for n in range(5)]
    assert [len(call) for call in bridge.calls] == [5, 2, 1]
    assert len(sleeps) == 2


def test_what_still_fails_after_the_last_attempt_is_reported_never_dropped() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutEvents")
    bridge = ScriptedEventBridge({2}, throttled, {0}, {0}, {0})
    failed = EventPublisher(bridge, "bus", attempts=5, sleep=lambda _: None).publish(
        [status(n) for n in range(4)]
    )
    assert failed == {2}
    assert sorted(bridge.published) == ["e0", "e1", "e3"]
