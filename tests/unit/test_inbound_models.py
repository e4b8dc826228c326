"""The inbound webhook models against every payload in events/webhooks/."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from support.paths import EVENTS
from wacloud.meta.inbound import (
    Change,
    InboundMessage,
    MessagesValue,
    Status,
    WebhookPayload,
    iter_changes,
    iter_messages,
    iter_statuses,
)

FIXTURES = EVENTS / "webhooks"
FIXTURE_PATHS = sorted(FIXTURES.glob("*.json"))

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "123456789012345"
DISPLAY_NUMBER = "15550001234"
CUSTOMER = "16505551234"
CUSTOMER_NAME = "Kerry Fisher"
OTHER_CUSTOMER = "16505559876"

BODY_ATTRIBUTES = (
    "text",
    "reaction",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "order",
    "system",
    "unsupported",
)


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def load(name: str) -> WebhookPayload:
    # Bytes, as the webhook receives them.
    return WebhookPayload.model_validate_json((FIXTURES / f"{name}.json").read_bytes())


def only_message(payload: WebhookPayload) -> tuple[MessagesValue, InboundMessage]:
    messages = list(iter_messages(payload))
    assert len(messages) == 1
    return messages[0]


def only_status(payload: WebhookPayload) -> Status:
    (value, status), *others = iter_statuses(payload)
    assert not others
    assert value.contacts == []  # Meta sends status updates without contacts
    assert value.messages == []
    return status


def set_bodies(message: InboundMessage) -> list[str]:
    return [name for name in BODY_ATTRIBUTES if getattr(message, name) is not None]


def shape(data: Any) -> Any:
    """The keys of nested JSON, without the scalar values (whose types parsing may change)."""
    if isinstance(data, dict):
        return {key: shape(value) for key, value in data.items()}
    if isinstance(data, list):
        return [shape(item) for item in data]
    return None


# --- every fixture ----------------------------------------------------------------------------------


def test_fixture_directory_is_found() -> None:
    # An empty glob would make every parametrized test below pass vacuously.
    assert len(FIXTURE_PATHS) >= 40


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda path: path.stem)
def test_fixture_parses_without_losing_anything(path: Path) -> None:
    sent = json.loads(path.read_text())
    payload = WebhookPayload.model_validate_json(path.read_bytes())

    assert payload.object == "whatsapp_business_account"
    assert all(entry.id == WABA_ID for entry in payload.entry)
    # Every key Meta sent, unknown ones included, survives a dump.
    dumped = payload.model_dump(by_alias=True, exclude_unset=True)
    assert shape(dumped) == shape(sent)
    assert WebhookPayload.model_validate(dumped).model_dump() == payload.model_dump()

    sent_changes = [change for entry in sent["entry"] for change in entry["changes"]]
    for (_, change), sent_change in zip(iter_changes(payload), sent_changes, strict=True):
        value = change.messages_value()
        if change.field != "messages":
            assert value is None
            assert change.value == sent_change["value"]
            continue
        assert value is not None
        assert value.metadata is not None
        assert value.metadata.phone_number_id == PHONE_NUMBER_ID
        assert value.metadata.display_phone_number == DISPLAY_NUMBER
        assert [m.raw for m in value.messages] == sent_change["value"].get("messages", [])
        assert [s.raw for s in value.statuses] == sent_change["value"].get("statuses", [])
        assert all(isinstance(m.timestamp, int) for m in value.messages)
        assert all(isinstance(s.timestamp, int) for s in value.statuses)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda path: path.stem)
def test_fixture_holds_what_its_name_says(path: Path) -> None:
    payload = WebhookPayload.model_validate_json(path.read_bytes())
    messages = [message for _, message in iter_messages(payload)]
    statuses = [status for _, status in iter_statuses(payload)]
    raw_changes = [change for _, change in iter_changes(payload) if change.messages_value() is None]
    kind = path.stem.split("_", 1)[0]

    if kind == "message":
        assert messages
        assert not statuses
        # The body attribute matches the type, for the types that have a body.
        for message in messages:
            assert set_bodies(message) in ([message.type], [])
    elif kind == "status":
        assert statuses
        assert not messages
        assert all(status.id.startswith("wamid.") for status in statuses)
    elif kind == "field":
        assert raw_changes
        assert all(isinstance(change.value, dict) for change in raw_changes)
    elif kind == "value":
        assert any(value.errors for _, change in iter_changes(payload) if (value := change.messages_value()))
    elif kind == "batch":
        assert len(messages) + len(statuses) + len(raw_changes) > 1
    else:
        pytest.fail(f"{path.name}: name it message_*, status_*, field_*, value_* or batch_*")


def test_message_and_status_ids_are_unique_across_fixtures() -> None:
    owners: dict[str, str] = {}
    for path in FIXTURE_PATHS:
        payload = WebhookPayload.model_validate_json(path.read_bytes())
        ids = {m.id for _, m in iter_messages(payload)} | {s.id for _, s in iter_statuses(payload)}
        for wamid in ids:
            assert owners.setdefault(wamid, path.name) == path.name, f"{wamid} also in {owners[wamid]}"


# --- each fixture's own fields ----------------------------------------------------------------------

Check = Callable[[WebhookPayload], None]
CHECKS: dict[str, Check] = {}


def check(function: Check) -> Check:
    CHECKS[function.__name__.removeprefix("check_")] = function
    return function


@check
def check_message_text(payload: WebhookPayload) -> None:
    value, message = only_message(payload)
    assert payload.entry[0].id == WABA_ID
    assert message.type == "text"
    assert message.text is not None
    assert message.text.body == "Hi! Is my order #4521 on its way?"
    assert message.from_ == CUSTOMER
    assert message.timestamp == 1763700012
    assert message.id.startswith("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz")
    assert message.context is None
    assert message.errors == []
    contact = value.contact_for(message)
    assert contact is not None
    assert contact.profile is not None
    assert contact.profile.name == CUSTOMER_NAME


@check
def check_message_reaction(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.reaction is not None
    assert message.reaction.emoji == "\N{THUMBS UP SIGN}"
    assert message.reaction.message_id.startswith("wamid.")


@check
def check_message_reaction_removed(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.type == "reaction"
    assert message.reaction is not None
    assert message.reaction.emoji is None


@check
def check_message_image(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.image is not None
    assert message.image.caption == "The box arrived damaged"
    assert message.image.mime_type == "image/jpeg"
    assert message.image.id.isdigit()
    assert message.image.sha256
    # A field the models do not declare, kept anyway.
    assert message.image.model_extra is not None
    assert message.image.model_extra["url"].startswith("https://lookaside.fbsbx.com/")


@check
def check_message_sticker(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.sticker is not None
    assert message.sticker.mime_type == "image/webp"
    assert message.sticker.animated is False


@check
def check_message_video(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.video is not None
    assert message.video.mime_type == "video/mp4"
    assert message.video.caption == "Unboxing"


@check
def check_message_audio_voice(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.audio is not None
    assert message.audio.voice is True
    assert message.audio.mime_type == "audio/ogg; codecs=opus"


@check
def check_message_document(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.document is not None
    assert message.document.filename == "invoice-4521.pdf"
    assert message.document.mime_type == "application/pdf"
    assert message.document.caption == "Invoice for order 4521"


@check
def check_message_unknown(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.type == "unknown"
    assert set_bodies(message) == []
    (error,) = message.errors
    assert error.code == 131051
    assert error.title == "Unsupported message type"
    assert error.details == "Message type is not currently supported"
    assert message.raw["errors"] == [
        {
            "code": 131051,
            "details": "Message type is not currently supported",
            "title": "Unsupported message type",
        }
    ]


@check
def check_message_unsupported(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.type == "unsupported"
    assert [error.code for error in message.errors] == [131051]


@check
def check_message_location(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.location is not None
    assert message.location.latitude == pytest.approx(37.4847483)
    assert message.location.longitude == pytest.approx(-122.1473837)
    assert message.location.name == "Meta Headquarters"
    assert message.location.address == "1 Hacker Way, Menlo Park, CA 94025"


@check
def check_message_contacts(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.contacts is not None
    (card,) = message.contacts
    assert card.name is not None
    assert card.name.formatted_name == "Dr. Jordan A. Lee Jr."
    assert card.name.first_name == "Jordan"
    assert [phone.wa_id for phone in card.phones] == ["16505550142", None]
    assert card.addresses[0].zip == "94025"
    assert card.addresses[0].type == "WORK"
    assert card.emails[0].email == "jordan.lee@example.com"
    assert card.org is not None
    assert card.org.company == "Example Logistics"
    assert card.urls[0].url == "https://www.example.com"
    assert card.birthday == "1990-04-12"


@check
def check_message_button_quick_reply(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.type == "button"
    assert message.button is not None
    assert message.button.payload == "TRACK_ORDER_4521"
    assert message.button.text == "Track my order"
    assert message.context is not None
    assert message.context.from_ == DISPLAY_NUMBER
    assert message.context.id is not None
    assert message.context.id.startswith("wamid.")


@check
def check_message_interactive_list_reply(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.interactive is not None
    assert message.interactive.type == "list_reply"
    assert message.interactive.list_reply is not None
    assert message.interactive.list_reply.id == "slot_tue_0900"
    assert message.interactive.list_reply.title == "Tuesday 9:00"
    assert message.interactive.list_reply.description == "Delivery between 9 and 11 am"
    assert message.interactive.button_reply is None


@check
def check_message_interactive_button_reply(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.interactive is not None
    assert message.interactive.type == "button_reply"
    assert message.interactive.button_reply is not None
    assert message.interactive.button_reply.id == "confirm_address_yes"
    assert message.interactive.button_reply.title == "Yes, that's right"


@check
def check_message_interactive_flow_reply(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.interactive is not None
    assert message.interactive.type == "nfm_reply"
    reply = message.interactive.nfm_reply
    assert reply is not None
    assert reply.name == "flow"
    assert reply.response_json == (
        '{"flow_token":"AQAAAAACS5FpgQ_cAAAAAD0QI3s.","delivery_date":"2025-11-25","leave_at_door":true}'
    )
    assert reply.response() == {
        "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
        "delivery_date": "2025-11-25",
        "leave_at_door": True,
    }


@check
def check_message_referral_ad(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.type == "text"
    assert message.text is not None
    assert message.text.body == "Hi, I'd like to know more about the spring sale"
    referral = message.referral
    assert referral is not None
    assert referral.source_url == "https://fb.me/3cr4Wqqkv"
    assert referral.source_type == "ad"
    assert referral.source_id == "120210532381230451"
    assert referral.media_type == "image"
    assert referral.headline == "Spring sale: 20% off every order"
    assert referral.ctwa_clid is not None
    assert referral.ctwa_clid.startswith("ARAkLkA8")


@check
def check_message_request_welcome(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.type == "request_welcome"
    assert set_bodies(message) == []
    assert message.from_ == CUSTOMER


@check
def check_message_product_inquiry(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.text is not None
    assert message.text.body == "Is this available in blue?"
    assert message.context is not None
    product = message.context.referred_product
    assert product is not None
    assert product.catalog_id == "2347893127493850"
    assert product.product_retailer_id == "SKU-TSHIRT-RED-M"


@check
def check_message_order(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    order = message.order
    assert order is not None
    assert order.catalog_id == "2347893127493850"
    assert order.text == "Please gift-wrap the cap"
    assert [(item.product_retailer_id, item.quantity) for item in order.product_items] == [
        ("SKU-TSHIRT-RED-M", 2),
        ("SKU-CAP-BLACK", 1),
    ]
    assert [item.item_price for item in order.product_items] == [Decimal("19.99"), Decimal("12.5")]
    assert {item.currency for item in order.product_items} == {"USD"}


@check
def check_message_system_user_changed_number(payload: WebhookPayload) -> None:
    value, message = only_message(payload)
    assert value.contacts == []
    assert value.contact_for(message) is None
    assert message.type == "system"
    assert message.system is not None
    assert message.system.type == "user_changed_number"
    assert message.system.new_wa_id == "16505554321"
    assert message.system.body == f"{CUSTOMER_NAME} changed from {CUSTOMER} to 16505554321"


@check
def check_message_system_customer_identity_changed(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.system is not None
    assert message.system.type == "customer_identity_changed"
    assert message.system.customer == CUSTOMER


@check
def check_message_forwarded(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.context is not None
    assert message.context.forwarded is True
    assert message.context.frequently_forwarded is None
    assert message.context.id is None


@check
def check_message_reply_context(payload: WebhookPayload) -> None:
    _, message = only_message(payload)
    assert message.text is not None
    assert message.text.body == "Yes, Tuesday morning works"
    assert message.context is not None
    assert message.context.from_ == DISPLAY_NUMBER
    assert message.context.id is not None
    assert message.context.id.startswith("wamid.HBgLMTY1MDU1NTEyMzQVAgARGB")


@check
def check_message_text_user_ids(payload: WebhookPayload) -> None:
    value, message = only_message(payload)
    assert message.from_ == CUSTOMER
    assert message.from_user_id == "US.13491208655302741918"
    contact = value.contact_for(message)
    assert contact is not None
    assert contact.user_id == "US.13491208655302741918"
    assert contact.wa_id == CUSTOMER


@check
def check_message_username_only(payload: WebhookPayload) -> None:
    value, message = only_message(payload)
    assert message.from_ is None
    assert "from" not in message.raw
    assert message.from_user_id == "US.27718094401935565312"
    contact = value.contact_for(message)
    assert contact is not None
    assert contact.wa_id is None
    assert contact.profile is not None
    assert contact.profile.model_extra == {"username": "@sam.travels"}


def _check_conversation_status(
    status: Status, *, state: str, origin: str, billable: bool, category: str
) -> None:
    assert status.status == state
    assert status.recipient_id == CUSTOMER
    assert status.conversation is not None
    assert status.conversation.origin is not None
    assert status.conversation.origin.type == origin
    assert status.conversation.id is not None
    assert len(status.conversation.id) == 32
    assert status.conversation.expiration_timestamp is not None
    assert status.conversation.expiration_timestamp > status.timestamp
    assert status.pricing is not None
    assert status.pricing.billable is billable
    assert status.pricing.pricing_model == "CBP"
    assert status.pricing.category == category
    assert status.errors == []


@check
def check_status_sent_referral_conversion(payload: WebhookPayload) -> None:
    status = only_status(payload)
    _check_conversation_status(
        status, state="sent", origin="referral_conversion", billable=False, category="referral_conversion"
    )


@check
def check_status_sent_business_initiated(payload: WebhookPayload) -> None:
    status = only_status(payload)
    _check_conversation_status(
        status, state="sent", origin="business_initiated", billable=True, category="business_initiated"
    )


@check
def check_status_sent_user_initiated(payload: WebhookPayload) -> None:
    status = only_status(payload)
    _check_conversation_status(
        status, state="sent", origin="user_initiated", billable=True, category="service"
    )


@check
def check_status_delivered_user_initiated(payload: WebhookPayload) -> None:
    status = only_status(payload)
    _check_conversation_status(
        status, state="delivered", origin="user_initiated", billable=True, category="service"
    )


@check
def check_status_delivered_business_initiated(payload: WebhookPayload) -> None:
    status = only_status(payload)
    _check_conversation_status(
        status, state="delivered", origin="business_initiated", billable=True, category="business_initiated"
    )


@check
def check_status_delivered_referral_conversion(payload: WebhookPayload) -> None:
    status = only_status(payload)
    _check_conversation_status(
        status,
        state="delivered",
        origin="referral_conversion",
        billable=False,
        category="referral_conversion",
    )


@check
def check_status_delivered_per_message_pricing(payload: WebhookPayload) -> None:
    status = only_status(payload)
    assert status.status == "delivered"
    assert status.pricing is not None
    assert (status.pricing.pricing_model, status.pricing.category, status.pricing.type) == (
        "PMP",
        "utility",
        "regular",
    )
    assert status.biz_opaque_callback_data == "order-4521:shipping-update"


@check
def check_status_read(payload: WebhookPayload) -> None:
    status = only_status(payload)
    assert status.status == "read"
    assert status.timestamp == 1763701200
    assert status.recipient_id == CUSTOMER
    assert status.conversation is None
    assert status.pricing is None


@check
def check_status_warning(payload: WebhookPayload) -> None:
    assert only_status(payload).status == "warning"


@check
def check_status_held_for_quality_assessment(payload: WebhookPayload) -> None:
    assert only_status(payload).status == "held_for_quality_assessment"


@check
def check_status_failed(payload: WebhookPayload) -> None:
    status = only_status(payload)
    assert status.status == "failed"
    (error,) = status.errors
    assert error.code == 131014
    assert error.title is not None
    assert "404 (Not Found)" in error.title
    assert error.error_data is None


@check
def check_status_failed_undeliverable_experiment(payload: WebhookPayload) -> None:
    status = only_status(payload)
    assert status.status == "failed"
    (error,) = status.errors
    assert error.code == 130472
    assert error.message == "User's number is part of an experiment"
    assert error.error_data is not None
    assert error.error_data.details == (
        "Failed to send message because this user's phone number is part of an experiment"
    )
    assert error.href == "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


@check
def check_value_errors(payload: WebhookPayload) -> None:
    ((_, change),) = iter_changes(payload)
    value = change.messages_value()
    assert value is not None
    assert (value.messages, value.statuses, value.contacts) == ([], [], [])
    (error,) = value.errors
    assert error.code == 368
    assert error.title == "Temporarily blocked for policies violations"
    assert error.error_data is not None
    assert error.error_data.details is not None


def _only_raw_change(payload: WebhookPayload, field: str) -> dict[str, Any]:
    ((entry, change),) = iter_changes(payload)
    assert change.field == field
    assert change.messages_value() is None
    assert not list(iter_messages(payload))
    assert not list(iter_statuses(payload))
    assert entry.model_extra is not None
    assert isinstance(entry.model_extra["time"], int)
    assert isinstance(change.value, dict)
    return change.value


@check
def check_field_message_template_status_update(payload: WebhookPayload) -> None:
    value = _only_raw_change(payload, "message_template_status_update")
    assert value["event"] == "APPROVED"
    assert value["message_template_name"] == "order_shipped"


@check
def check_field_account_update(payload: WebhookPayload) -> None:
    value = _only_raw_change(payload, "account_update")
    assert value == {"phone_number": DISPLAY_NUMBER, "event": "VERIFIED_ACCOUNT"}


@check
def check_field_phone_number_quality_update(payload: WebhookPayload) -> None:
    value = _only_raw_change(payload, "phone_number_quality_update")
    assert value["current_limit"] == "TIER_10K"


@check
def check_batch_mixed(payload: WebhookPayload) -> None:
    assert [len(entry.changes) for entry in payload.entry] == [2, 2]
    assert [change.field for _, change in iter_changes(payload)] == [
        "messages",
        "messages",
        "messages",
        "message_template_status_update",
    ]
    messages = list(iter_messages(payload))
    assert [m.type for _, m in messages] == ["text", "image", "reaction"]
    senders = [value.contact_for(m) for value, m in messages]
    assert [c.profile.name if c and c.profile else None for c in senders] == [
        CUSTOMER_NAME,
        "Alex Moreno",
        CUSTOMER_NAME,
    ]
    statuses = [s for _, s in iter_statuses(payload)]
    assert [s.status for s in statuses] == ["read", "delivered", "sent", "failed", "delivered"]
    assert [s.recipient_id for s in statuses] == [
        CUSTOMER,
        OTHER_CUSTOMER,
        OTHER_CUSTOMER,
        CUSTOMER,
        OTHER_CUSTOMER,
    ]
    assert statuses[3].errors[0].code == 131047
    assert statuses[1].pricing is not None
    assert statuses[1].pricing.type == "free_customer_service"
    # The reaction is to the message the first status reports as read.
    reaction = messages[2][1].reaction
    assert reaction is not None
    assert reaction.message_id == statuses[0].id
    template_update = payload.entry[1].changes[1].value
    assert isinstance(template_update, dict)
    assert template_update["event"] == "REJECTED"


@check
def check_batch_statuses(payload: WebhookPayload) -> None:
    updates = list(iter_statuses(payload))
    statuses = [status for _, status in updates]
    assert len(statuses) == 6
    assert all(value.contacts == [] for value, _ in updates)
    # Out of order as delivered; the timestamps restore each message's lifecycle.
    by_message: dict[str, list[Status]] = {}
    for status in statuses:
        by_message.setdefault(status.id, []).append(status)
    assert len(by_message) == 2
    for lifecycle in by_message.values():
        ordered = sorted(lifecycle, key=lambda status: status.timestamp)
        assert [status.status for status in ordered] == ["sent", "delivered", "read"]
    assert [status.status for status in statuses][:3] == ["read", "delivered", "sent"]


@check
def check_batch_messages(payload: WebhookPayload) -> None:
    messages = [message for _, message in iter_messages(payload)]
    assert [message.type for message in messages] == ["text", "audio", "interactive", "unsupported", "text"]
    assert [message.from_ for message in messages] == [
        CUSTOMER,
        OTHER_CUSTOMER,
        CUSTOMER,
        OTHER_CUSTOMER,
        OTHER_CUSTOMER,
    ]
    _, voice, button, edit, forwarded = messages
    assert voice.audio is not None
    assert voice.audio.voice is True
    assert button.interactive is not None
    assert button.interactive.button_reply is not None
    assert button.interactive.button_reply.id == "start_return"
    assert edit.unsupported is not None
    assert edit.unsupported.type == "edit"
    assert edit.errors[0].error_data is not None
    assert edit.errors[0].error_data.details == "Message type is currently not supported."
    assert forwarded.context is not None
    assert forwarded.context.frequently_forwarded is True


def test_every_check_names_a_fixture() -> None:
    assert [name for name in CHECKS if not (FIXTURES / f"{name}.json").is_file()] == []


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_fixture_fields(name: str) -> None:
    CHECKS[name](load(name))


# --- openness -----------------------------------------------------------------------------------


def test_unexpected_fields_are_kept_at_every_level() -> None:
    sent = load_json("message_text")
    sent["new_top_level"] = 1
    entry = sent["entry"][0]
    entry["new_entry_field"] = "e"
    value = entry["changes"][0]["value"]
    value["new_value_field"] = {"nested": [1, 2]}
    value["contacts"][0]["profile"]["username"] = "@kerry"
    message = value["messages"][0]
    message["new_message_field"] = {"a": "b"}
    message["text"]["new_text_field"] = True

    payload = WebhookPayload.model_validate(sent)
    value_model = payload.entry[0].changes[0].messages_value()
    assert value_model is not None
    parsed = value_model.messages[0]
    assert payload.model_extra == {"new_top_level": 1}
    assert payload.entry[0].model_extra == {"new_entry_field": "e"}
    assert value_model.model_extra == {"new_value_field": {"nested": [1, 2]}}
    assert parsed.model_extra == {"new_message_field": {"a": "b"}}
    assert parsed.text is not None
    assert parsed.text.model_extra == {"new_text_field": True}
    assert parsed.raw["new_message_field"] == {"a": "b"}
    assert payload.model_dump(by_alias=True, exclude_unset=True)["new_top_level"] == 1


def test_unknown_message_type_keeps_its_body_and_raw_data() -> None:
    sent = load_json("message_text")
    message = sent["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message["type"] = "poll_vote"
    message["poll_vote"] = {"poll_id": "p-1", "options": [2]}

    (_, parsed), *_ = iter_messages(WebhookPayload.model_validate(sent))
    assert parsed.type == "poll_vote"
    assert set_bodies(parsed) == []
    assert parsed.model_extra is not None
    assert parsed.model_extra[parsed.type] == {"poll_id": "p-1", "options": [2]}
    assert parsed.raw is message


def test_unknown_status_value_parses() -> None:
    sent = load_json("status_read")
    sent["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "played"
    (_, status), *_ = iter_statuses(WebhookPayload.model_validate(sent))
    assert status.status == "played"


def test_status_payload_without_contacts_parses() -> None:
    sent = load_json("status_sent_user_initiated")
    assert "contacts" not in sent["entry"][0]["changes"][0]["value"]
    (value, status), *_ = iter_statuses(WebhookPayload.model_validate(sent))
    assert value.contacts == []
    assert status.status == "sent"


def test_other_fields_stay_raw_even_when_they_look_like_messages() -> None:
    echo = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
        "message_echoes": [{"from": DISPLAY_NUMBER, "to": CUSTOMER, "type": "text"}],
    }
    change = Change.model_validate({"field": "smb_message_echoes", "value": echo})
    assert change.messages_value() is None
    assert change.value == echo


def test_flow_reply_given_as_an_object_becomes_json_text() -> None:
    sent = load_json("message_interactive_flow_reply")
    reply = sent["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["nfm_reply"]
    reply["response_json"] = {"flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "size": "M"}

    _, message = only_message(WebhookPayload.model_validate(sent))
    assert message.interactive is not None
    assert message.interactive.nfm_reply is not None
    assert json.loads(message.interactive.nfm_reply.response_json) == reply["response_json"]
    assert message.interactive.nfm_reply.response()["size"] == "M"


def test_missing_type_does_not_reject_the_message() -> None:
    sent = load_json("message_location")
    del sent["entry"][0]["changes"][0]["value"]["messages"][0]["type"]
    _, message = only_message(WebhookPayload.model_validate(sent))
    assert message.type == "unknown"
    assert message.location is not None


def test_models_build_by_python_name_and_dump_by_alias() -> None:
    message = InboundMessage(id="wamid.X", from_=CUSTOMER, timestamp=1763700000, type="text")
    assert message.model_dump(by_alias=True, exclude_unset=True) == {
        "id": "wamid.X",
        "from": CUSTOMER,
        "timestamp": 1763700000,
        "type": "text",
    }
    assert message.raw == {"id": "wamid.X", "from": CUSTOMER, "timestamp": 1763700000, "type": "text"}


def test_a_message_without_an_id_is_rejected_with_its_location() -> None:
    sent = load_json("message_text")
    del sent["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    with pytest.raises(ValidationError) as raised:
        WebhookPayload.model_validate(sent)
    assert raised.value.errors()[0]["loc"] == ("entry", 0, "changes", 0, "value", "messages", 0, "id")


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda path: path.stem)
def test_json_is_read_as_python_is(path: Path) -> None:
    # JSON is read by schemas of its own (no Python per model): the models, their fields set and
    # extras, and the raw parts are those the Python schemas give.
    from_json = WebhookPayload.model_validate_json(path.read_bytes())
    from_python = WebhookPayload.model_validate(json.loads(path.read_bytes()))
    assert from_json == from_python
    for (_, change), (_, same_change) in zip(iter_changes(from_json), iter_changes(from_python), strict=True):
        assert type(change.value) is type(same_change.value)
        assert change.model_fields_set == same_change.model_fields_set
        read = change.messages_value()
        if read is None:
            continue
        assert read.__dict__.keys() == MessagesValue.model_fields.keys()
        assert read.model_fields_set == same_change.value.model_fields_set  # type: ignore[union-attr]
        for part in [*read.messages, *read.statuses]:
            assert part.__pydantic_private__ is not None
    assert [m.raw for _, m in iter_messages(from_json)] == [m.raw for _, m in iter_messages(from_python)]
    assert [s.raw for _, s in iter_statuses(from_json)] == [s.raw for _, s in iter_statuses(from_python)]


def test_a_change_is_typed_by_its_field_when_read_from_json() -> None:
    value = load_json("message_text")["entry"][0]["changes"][0]["value"]
    for field in ("messages ", "Messages", "message", "messages\n", "history"):
        change = Change.model_validate_json(json.dumps({"field": field, "value": value}))
        assert change.messages_value() is None
        assert change.value == value
    assert Change.model_validate_json(json.dumps({"field": "messages", "value": value})).messages_value()
    value["messages"][0]["timestamp"] = "yesterday"
    with pytest.raises(ValidationError):
        Change.model_validate_json(json.dumps({"field": "messages", "value": value}))


def test_a_message_keyed_by_python_names_has_no_raw_object_from_json_either() -> None:
    sent = load_json("message_text")
    message = sent["entry"][0]["changes"][0]["value"]["messages"][0]
    message["from_"] = message.pop("from")
    _, parsed = only_message(WebhookPayload.model_validate_json(json.dumps(sent)))
    assert parsed.from_ == CUSTOMER
    assert parsed.raw == parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)


def test_timestamps_out_of_range_are_clamped_from_json_and_python() -> None:
    sent = load_json("status_read")
    sent["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = "-5"
    read = (WebhookPayload.model_validate_json(json.dumps(sent)), WebhookPayload.model_validate(sent))
    for payload in read:
        (_, status), *_ = iter_statuses(payload)
        assert status.timestamp == 0
        assert status.raw["timestamp"] == "-5"
