"""Contacts Meta names by business-scoped user id, through the processor's handler and the sender's
reads: one contact whichever id names it, what it did under the id alone kept once its number is
known, statuses by id joining their contact."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from bench.capacity import CapacityMeter
from support.processor import METADATA, WABA_ID, sqs_event
from wacloud.table.store import ConversationStore
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

NUMBER, USER_ID = "16505550401", "US.4000000000000401"
T0 = 1763700000


def payload(value: dict[str, Any]) -> str:
    value = {"messaging_product": "whatsapp", "metadata": METADATA, **value}
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
        }
    )


def message(wamid: str, at: int, body: str, *, number: bool, username: str | None = None) -> str:
    """A text from the contact, naming it by id and, when ``number``, by number too."""
    profile: dict[str, Any] = {"name": "Lin"}
    if username:
        profile["username"] = username
    contact: dict[str, Any] = {"profile": profile, "user_id": USER_ID}
    sender: dict[str, Any] = {"from_user_id": USER_ID}
    if number:
        contact["wa_id"] = NUMBER
        sender["from"] = NUMBER
    text = {**sender, "id": wamid, "timestamp": str(at), "type": "text", "text": {"body": body}}
    return payload({"contacts": [contact], "messages": [text]})


@pytest.fixture
def processor(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("ProcessorFunction")


@pytest.fixture
def store(stack: LocalStack) -> ConversationStore:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(stack.table_names["MessagesTable"])
    return ConversationStore(table, clock=lambda: T0 + 3600)


def deliver(processor: LocalFunction, *bodies: str) -> None:
    assert processor.invoke(sqs_event(*bodies)) == {"batchItemFailures": []}


def test_a_contact_is_one_contact_whichever_id_names_it(
    processor: LocalFunction, store: ConversationStore, stack: LocalStack
) -> None:
    # Known by the id alone, the contact opts out: under the id.
    deliver(processor, message("wamid.A", T0, "STOP", number=False))
    assert store.contact_of(USER_ID) == USER_ID
    hidden = store.profile(USER_ID)
    assert hidden is not None
    assert hidden["opted_in"] is False

    # Named by both: the id leads to the number, and the opt-out joins the number's profile.
    deliver(processor, message("wamid.B", T0 + 10, "My number now", number=True, username="lin.w"))
    assert store.contact_of(USER_ID) == NUMBER
    profile = store.profile(NUMBER)
    assert profile is not None
    assert (profile["opted_in"], profile["consent_reason"]) == (False, "keyword:STOP")
    assert (profile["user_id"], profile["username"]) == (USER_ID, "lin.w")

    # Later messages by the id alone are the number's contact's.
    deliver(processor, message("wamid.C", T0 + 20, "Hidden again", number=False))
    assert [m["wamid"] for m in store.conversation(NUMBER)] == ["wamid.B", "wamid.C"]
    profile = store.profile(NUMBER)
    assert profile is not None
    assert profile["last_inbound_wamid"] == "wamid.C"

    # A newer START said under the number wins over the STOP carried from the id.
    deliver(processor, message("wamid.D", T0 + 30, "START", number=True))
    profile = store.profile(NUMBER)
    assert profile is not None
    assert profile["opted_in"] is True


def test_the_link_is_written_once_and_follows_a_new_number(
    load_function: Callable[[str], LocalFunction], store: ConversationStore, stack: LocalStack
) -> None:
    meter = CapacityMeter(stack.table_names["MessagesTable"])
    assert boto3.DEFAULT_SESSION is not None
    with meter.installed(boto3.DEFAULT_SESSION):
        # Loaded metered: its clients come from the session the meter hooks.
        processor = load_function("ProcessorFunction")
        deliver(processor, message("wamid.E", T0, "Hello", number=True))
        first = meter.reset()
        # The message and the link; the payload's ids read in one request.
        assert (first.items_written, first.write_units) == (2, 2)
        assert first.calls["BatchGetItem"] == 1
        # Delivered again, and another message naming both: the messages alone.
        deliver(
            processor,
            message("wamid.E", T0, "Hello", number=True),
            message("wamid.F", T0 + 5, "Hi", number=True),
        )
        assert meter.reset().items_written == 2
    assert store.contact_of(USER_ID) == NUMBER
    # Meta names the id with another number (the contact moved numbers): the link follows.
    moved = message("wamid.G", T0 + 9, "New phone", number=True).replace(NUMBER, "16505550499")
    deliver(processor, moved)
    assert store.contact_of(USER_ID) == "16505550499"


def test_a_status_by_id_alone_joins_its_contact(
    processor: LocalFunction, store: ConversationStore, stack: LocalStack
) -> None:
    deliver(processor, message("wamid.H", T0, "Hello", number=True))
    failed = {
        "id": "wamid.OUT",
        "status": "failed",
        "timestamp": str(T0 + 60),
        "recipient_user_id": USER_ID,
        "errors": [{"code": 131050, "title": "User has stopped marketing messages"}],
    }
    deliver(processor, payload({"statuses": [failed]}))
    record = store.message("wamid.OUT")
    assert record is not None
    assert record["recipient_id"] == NUMBER
    profile = store.profile(NUMBER)
    assert profile is not None
    assert profile["marketing_stopped"] is True


def test_a_marketing_stop_by_id_alone_holds_once_the_number_is_known(
    processor: LocalFunction, store: ConversationStore
) -> None:
    stop = {
        "user_id": USER_ID,
        "detail": "User requested to stop marketing messages",
        "category": "marketing_messages",
        "value": "stop",
        "timestamp": T0,
    }
    value = {"messaging_product": "whatsapp", "metadata": METADATA, "user_preferences": [stop]}
    change = {"field": "user_preferences", "value": value}
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "time": T0, "changes": [change]}],
    }
    deliver(processor, json.dumps(body))
    hidden = store.profile(USER_ID)
    assert hidden is not None
    assert hidden["marketing_stopped"] is True

    deliver(processor, message("wamid.J", T0 + 10, "My number", number=True))
    profile = store.profile(NUMBER)
    assert profile is not None
    assert (profile["marketing_stopped"], profile["marketing_reason"]) == (True, "preference:stop")


def test_a_preference_naming_both_ids_links_them(processor: LocalFunction, store: ConversationStore) -> None:
    resume = {"wa_id": NUMBER, "user_id": USER_ID, "category": "marketing_messages", "value": "resume"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": METADATA,
        "user_preferences": [{**resume, "timestamp": T0}],
    }
    change = {"field": "user_preferences", "value": value}
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "time": T0, "changes": [change]}],
    }
    deliver(processor, json.dumps(body))
    assert store.contact_of(USER_ID) == NUMBER
