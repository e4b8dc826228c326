"""What each kind of update costs in DynamoDB write units, first delivered and delivered again.

The processor runs through its handler on the template's table; a meter counts the units of its
calls by DynamoDB's billing rules (item sizes before and after, index entries by projection,
failed conditions), as docs/data-model.md ("Write costs") states them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3
import pytest

from bench.capacity import CapacityMeter, Usage
from support.aws import REGION
from support.processor import fixture_body, sqs_event
from wacloud.table.items import OutboundRecord
from wacloud.table.store import ConversationStore
from walocal.events import EVENTS_DIR
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

# One inbound message each, of every type, none a consent keyword or a number change.
ONE_MESSAGE = sorted(
    path.stem
    for path in (EVENTS_DIR / "webhooks").glob("message_*.json")
    if path.stem not in {"message_text_stop", "message_text_start", "message_system_user_changed_number"}
)
ONE_STATUS = sorted(
    path.stem
    for path in (EVENTS_DIR / "webhooks").glob("status_*.json")
    if path.stem not in {"status_warning", "status_failed_marketing_opt_out"} and "failed" not in path.stem
)


@dataclass
class Metered:
    meter: CapacityMeter
    processor: LocalFunction
    store: ConversationStore
    deliveries: int = 0

    def deliver(self, name: str) -> Usage:
        """A POST as a new request (Meta delivers a body again in a new one), and what it cost."""
        self.meter.reset()
        self.deliveries += 1
        event = sqs_event(fixture_body(f"{name}.json"), received_at_ms=1763705500000 + self.deliveries)
        assert self.processor.invoke(event) == {"batchItemFailures": []}
        return self.meter.reset()

    def record_outbound_of(self, name: str) -> None:
        """The sender's record of the message a status fixture is about, as it is before statuses."""
        status = json.loads(fixture_body(f"{name}.json"))["entry"][0]["changes"][0]["value"]["statuses"][0]
        request = {"messaging_product": "whatsapp", "to": status["recipient_id"], "type": "template"}
        request["template"] = {"name": "order_update", "language": {"code": "en_US"}}
        self.store.record_outbound(
            OutboundRecord(
                wamid=status["id"],
                wa_id=status["recipient_id"],
                kind="template",
                timestamp=int(status["timestamp"]) - 2,
                accepted_status="accepted",
                phone_number_id="123456789012345",
                request=request,
                idempotency_key="order-4521-shipped",
            )
        )


def session() -> boto3.Session:
    """The session the functions' clients are made from (the tests' stack sets it)."""
    assert boto3.DEFAULT_SESSION is not None
    return boto3.DEFAULT_SESSION


@pytest.fixture
def metered(stack: LocalStack, load_function: Callable[..., LocalFunction]) -> Iterator[Metered]:
    meter = CapacityMeter(stack.table_names["MessagesTable"])
    store = ConversationStore(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )
    with meter.installed(session()):
        yield Metered(meter, load_function("ProcessorFunction"), store)


@pytest.mark.parametrize("name", ONE_MESSAGE)
def test_an_inbound_message_is_one_item_and_one_write_unit(metered: Metered, name: str) -> None:
    # The first message naming a contact by both number and business-scoped id also links the
    # two (one small item, once per contact).
    payload = json.loads((EVENTS_DIR / "webhooks" / f"{name}.json").read_text())
    (message,) = [m for e in payload["entry"] for c in e["changes"] for m in c["value"].get("messages", [])]
    link = 1 if "from" in message and "from_user_id" in message else 0
    first = metered.deliver(name)
    assert (first.items_written, first.write_units, dict(first.index_write_units)) == (1 + link, 1 + link, {})
    # Delivered again: the same item again, nothing more.
    again = metered.deliver(name)
    assert (again.items_written, again.total_write_units) == (1, 1)


@pytest.mark.parametrize("name", ONE_STATUS)
def test_a_status_of_a_recorded_message_costs_two_write_units(metered: Metered, name: str) -> None:
    metered.record_outbound_of(name)
    first = metered.deliver(name)
    # Its history item and the message's current status; the conversation index holds the
    # message's keys only, so the status update writes no index entry.
    assert (first.items_written, first.write_units, dict(first.index_write_units)) == (2, 2, {})
    # Delivered again: the history item again, and the update's condition fails (still a unit).
    again = metered.deliver(name)
    assert (again.total_write_units, again.failed_conditions) == (2, 1)


def test_a_failed_status_adds_its_entry_in_the_failed_index(metered: Metered) -> None:
    metered.record_outbound_of("status_failed")
    first = metered.deliver("status_failed")
    assert (first.write_units, dict(first.index_write_units)) == (2, {"gsi2": 1})


def test_a_consent_keyword_also_writes_the_profile_and_its_consent_entry(metered: Metered) -> None:
    first = metered.deliver("message_text_stop")
    assert (first.items_written, first.write_units, dict(first.index_write_units)) == (2, 2, {"consent": 1})
    again = metered.deliver("message_text_stop")
    assert (again.total_write_units, again.failed_conditions) == (2, 1)


def test_with_raw_archive_all_a_text_costs_the_archive_and_its_day_entry_too(
    stack: LocalStack, load_function: Callable[..., LocalFunction]
) -> None:
    meter = CapacityMeter(stack.table_names["MessagesTable"])
    with meter.installed(session()):
        processor = load_function("ProcessorFunction", RAW_ARCHIVE="all")
        meter.reset()
        assert processor.invoke(sqs_event(fixture_body("message_text.json"))) == {"batchItemFailures": []}
        first = meter.reset()
    # The archive item holds the body and its receipt (past 1 KB: two units) beside the message's one.
    (archive_bytes,) = [size for pk, _, size in first.sizes if pk.startswith("RAW#")]
    assert 1024 < archive_bytes <= 2048
    assert (first.items_written, first.write_units, dict(first.index_write_units)) == (2, 3, {"gsi1": 1})


def test_a_marketing_preference_writes_its_event_and_the_profile(metered: Metered) -> None:
    first = metered.deliver("field_user_preferences_stop")
    assert (first.items_written, first.write_units, dict(first.index_write_units)) == (2, 2, {})
    # Delivered again: the event again, and the profile update's condition fails (still a unit).
    again = metered.deliver("field_user_preferences_stop")
    assert (again.total_write_units, again.failed_conditions) == (2, 1)


def test_a_marketing_preference_of_an_opted_in_contact_also_updates_its_consent_entry(
    metered: Metered,
) -> None:
    metered.deliver("message_text_start")
    first = metered.deliver("field_user_preferences_resume")
    # The event, the profile (and its consent entry), and the first link of the contact's
    # business-scoped id, which the preference names beside the number.
    assert (first.items_written, first.write_units, dict(first.index_write_units)) == (3, 3, {"consent": 1})
