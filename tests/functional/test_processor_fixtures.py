"""Every webhook fixture through the processor handler, with the items each one must leave.

The test is parametrized over events/webhooks/, and a fixture without an entry in ``EXPECTED``
fails: a new payload is covered by stating what it stores, not by "no exception".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from support.aws import REGION, table_items
from wacloud.meta.templates import template_change
from wacloud.table.keys import time_key
from wacloud.table.store import ConversationStore
from walocal.events import EVENTS_DIR, sqs_record
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

FIXTURES = EVENTS_DIR / "webhooks"
FIXTURE_PATHS = sorted(FIXTURES.glob("*.json"))
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:whatsapp-cloud-WebhookQueue"
RECEIVED_AT_MS = 1763705500000
DAY = "2025-11-21"  # of every fixture's timestamps and of RECEIVED_AT_MS
RETENTION_DAYS = 30  # the template's default RawPayloadRetentionDays

KERRY = "16505551234"
ALEX = "16505559876"
KERRY_NEW_NUMBER = "16505554321"
SAM = "US.27718094401935565312"


@dataclass(frozen=True)
class Msg:
    """An inbound message as stored: its type, the text listed in conversations, its sender."""

    type: str
    text: str | None = None
    wa_id: str = KERRY


@dataclass(frozen=True)
class Profile:
    """A contact profile as stored. ``last`` is the index of the message that is the last inbound."""

    name: str | None = None
    last: int | None = None
    opted_in: bool | None = None
    consent_reason: str | None = None
    consent_at: int | None = None
    marketing_stopped_at: int | None = None
    # With marketing_stopped_at: stopped (a 131050 failure, the user's stop) or resumed (False).
    marketing_stopped: bool = True
    marketing_reason: str = "error:131050"
    changed_to: str | None = None
    changed_at: int | None = None
    previous_wa_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Expected:
    messages: tuple[Msg, ...] = ()
    # Current status of each outbound wamid, in order of first appearance; None: a status that does
    # not move the current status (warning), so no message item.
    statuses: tuple[str | None, ...] = ()
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    events: tuple[str, ...] = ()  # fields of the EVENT# items
    failed: tuple[int, ...] = ()  # indices into ``statuses`` listed by failed_messages(DAY)
    # Conversation order per contact, as indices into ``messages``; by default each contact's
    # messages in payload order.
    conversations: Mapping[str, tuple[int, ...]] | None = None


def kerry(last: int = 0, **fields: Any) -> dict[str, Profile]:
    return {KERRY: Profile(name="Kerry Fisher", last=last, **fields)}


EXPECTED: dict[str, Expected] = {
    "batch_messages": Expected(
        messages=(
            Msg("text", "Hello, I need help with a return"),
            Msg("audio", None, ALEX),
            Msg("interactive", "Start a return"),
            Msg("unsupported", None, ALEX),
            Msg("text", "Check out this deal", ALEX),
        ),
        profiles={
            KERRY: Profile(name="Kerry Fisher", last=2),
            ALEX: Profile(name="Alex Moreno", last=4),
        },
    ),
    "batch_mixed": Expected(
        messages=(
            Msg("text", "Where is my parcel?"),
            Msg("image", None, ALEX),
            Msg("reaction", "\u2764\ufe0f"),
        ),
        statuses=("read", "delivered", "sent", "failed", "delivered"),
        failed=(3,),
        events=("message_template_status_update",),
        profiles={
            KERRY: Profile(name="Kerry Fisher", last=2),
            ALEX: Profile(name="Alex Moreno", last=1),
        },
    ),
    "batch_statuses": Expected(statuses=("read", "read")),
    "batch_unknown_type_field_and_status": Expected(
        messages=(Msg("poll_response"),),
        statuses=("sent",),
        events=("user_preferences",),
        # The user's stop (1763702415) is applied to the profile, and kept as an event.
        profiles={
            KERRY: Profile(
                name="Kerry Fisher",
                last=0,
                marketing_stopped_at=1763702415,
                marketing_reason="preference:stop",
            )
        },
    ),
    "field_account_update": Expected(events=("account_update",)),
    "field_message_template_status_update": Expected(events=("message_template_status_update",)),
    "field_phone_number_quality_update": Expected(events=("phone_number_quality_update",)),
    "field_user_preferences_resume": Expected(
        events=("user_preferences",),
        profiles={
            KERRY: Profile(
                marketing_stopped_at=1763703600, marketing_stopped=False, marketing_reason="preference:resume"
            )
        },
    ),
    "field_user_preferences_stop": Expected(
        events=("user_preferences",),
        profiles={KERRY: Profile(marketing_stopped_at=1763703000, marketing_reason="preference:stop")},
    ),
    "message_audio_voice": Expected(messages=(Msg("audio"),), profiles=kerry()),
    "message_button_quick_reply": Expected(messages=(Msg("button", "Track my order"),), profiles=kerry()),
    "message_contacts": Expected(messages=(Msg("contacts", "Dr. Jordan A. Lee Jr."),), profiles=kerry()),
    "message_document": Expected(messages=(Msg("document", "Invoice for order 4521"),), profiles=kerry()),
    "message_forwarded": Expected(
        messages=(Msg("text", "Flash sale at Example Store this weekend!"),), profiles=kerry()
    ),
    "message_image": Expected(messages=(Msg("image", "The box arrived damaged"),), profiles=kerry()),
    "message_interactive_button_reply": Expected(
        messages=(Msg("interactive", "Yes, that's right"),), profiles=kerry()
    ),
    "message_interactive_flow_reply": Expected(messages=(Msg("interactive", "nfm_reply"),), profiles=kerry()),
    "message_interactive_list_reply": Expected(
        messages=(Msg("interactive", "Tuesday 9:00"),), profiles=kerry()
    ),
    "message_location": Expected(messages=(Msg("location", "Meta Headquarters"),), profiles=kerry()),
    "message_order": Expected(messages=(Msg("order", "Please gift-wrap the cap"),), profiles=kerry()),
    "message_product_inquiry": Expected(
        messages=(Msg("text", "Is this available in blue?"),), profiles=kerry()
    ),
    "message_reaction": Expected(messages=(Msg("reaction", "\U0001f44d"),), profiles=kerry()),
    "message_reaction_removed": Expected(messages=(Msg("reaction"),), profiles=kerry()),
    "message_referral_ad": Expected(
        messages=(Msg("text", "Hi, I'd like to know more about the spring sale"),), profiles=kerry()
    ),
    "message_reply_context": Expected(
        messages=(Msg("text", "Yes, Tuesday morning works"),), profiles=kerry()
    ),
    "message_request_welcome": Expected(messages=(Msg("request_welcome"),), profiles=kerry()),
    "message_sticker": Expected(messages=(Msg("sticker"),), profiles=kerry()),
    # System notices come from WhatsApp, not the user: stored in the conversation, but they neither
    # open the 24-hour window nor name the contact.
    "message_system_customer_identity_changed": Expected(
        messages=(Msg("system", "Kerry Fisher's security code changed. Tap to learn more."),),
    ),
    "message_system_user_changed_number": Expected(
        messages=(Msg("system", "Kerry Fisher changed from 16505551234 to 16505554321"),),
        profiles={
            KERRY: Profile(changed_to=KERRY_NEW_NUMBER, changed_at=1763700620),
            KERRY_NEW_NUMBER: Profile(previous_wa_ids=frozenset({KERRY})),
        },
    ),
    "message_text": Expected(messages=(Msg("text", "Hi! Is my order #4521 on its way?"),), profiles=kerry()),
    "message_text_start": Expected(
        messages=(Msg("text", "Start"),),
        profiles=kerry(opted_in=True, consent_reason="keyword:START", consent_at=1763700860),
    ),
    "message_text_stop": Expected(
        messages=(Msg("text", "STOP"),),
        profiles=kerry(opted_in=False, consent_reason="keyword:STOP", consent_at=1763700800),
    ),
    "message_text_user_ids": Expected(messages=(Msg("text", "Hello again"),), profiles=kerry()),
    "message_unknown": Expected(messages=(Msg("unknown"),), profiles=kerry()),
    "message_unsupported": Expected(messages=(Msg("unsupported"),), profiles=kerry()),
    "message_username_only": Expected(
        messages=(Msg("text", "Do you ship to Canada?", SAM),), profiles={SAM: Profile(name="Sam", last=0)}
    ),
    "message_video": Expected(messages=(Msg("video", "Unboxing"),), profiles=kerry()),
    "status_delivered_business_initiated": Expected(statuses=("delivered",)),
    "status_delivered_per_message_pricing": Expected(statuses=("delivered",)),
    "status_delivered_referral_conversion": Expected(statuses=("delivered",)),
    "status_delivered_user_initiated": Expected(statuses=("delivered",)),
    "status_failed": Expected(statuses=("failed",), failed=(0,)),
    "status_failed_marketing_opt_out": Expected(
        statuses=("failed",), failed=(0,), profiles={KERRY: Profile(marketing_stopped_at=1763701360)}
    ),
    "status_failed_undeliverable_experiment": Expected(statuses=("failed",), failed=(0,)),
    "status_held_for_quality_assessment": Expected(statuses=("held_for_quality_assessment",)),
    "status_read": Expected(statuses=("read",)),
    "status_sent_business_initiated": Expected(statuses=("sent",)),
    "status_sent_referral_conversion": Expected(statuses=("sent",)),
    "status_sent_user_initiated": Expected(statuses=("sent",)),
    "status_warning": Expected(statuses=(None,)),
    "value_errors": Expected(events=("messages.errors",)),
}


# --------------------------------------------------------------------------------- helpers
@pytest.fixture
def processor(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("ProcessorFunction")


@pytest.fixture
def archiving_processor(load_function: Callable[..., LocalFunction]) -> LocalFunction:
    """The processor of a stack deployed with ``RawArchive: all``."""
    return load_function("ProcessorFunction", RAW_ARCHIVE="all")


def store_of(stack: LocalStack) -> ConversationStore:
    return ConversationStore(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )


def deliver(
    processor: LocalFunction, body: str, message_id: str = "4c1f3b8e-1d2a-4f61-9a0e-5b7c2d9e8f10"
) -> None:
    """One SQS record, as the webhook function queues it and Lambda delivers it."""
    message = {
        "MessageId": message_id,
        "ReceiptHandle": f"handle-{message_id}",
        "Body": body,
        "Attributes": {"SentTimestamp": str(RECEIVED_AT_MS), "ApproximateReceiveCount": "1"},
        "MessageAttributes": {
            "received_at_ms": {"DataType": "Number", "StringValue": str(RECEIVED_AT_MS)},
            "request_id": {"DataType": "String", "StringValue": "KZ4cvjQ6IAMEV7w="},
            "payload_location": {"DataType": "String", "StringValue": "inline"},
        },
    }
    assert processor.invoke({"Records": [sqs_record(message, QUEUE_ARN)]}) == {"batchItemFailures": []}


def messages_of(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        message
        for entry in payload["entry"]
        for change in entry["changes"]
        if change["field"] == "messages"
        for message in change["value"].get("messages", [])
    ]


def statuses_of(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        status
        for entry in payload["entry"]
        for change in entry["changes"]
        if change["field"] == "messages"
        for status in change["value"].get("statuses", [])
    ]


def events_of(payload: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """What the processor keeps as events: other fields' values, and value-level errors."""
    events: list[tuple[str, Any]] = []
    for entry in payload["entry"]:
        for change in entry["changes"]:
            if change["field"] != "messages":
                events.append((change["field"], change["value"]))
            elif "errors" in change["value"]:
                events.append(("messages.errors", {"errors": change["value"]["errors"]}))
    return events


def canonical(events: Iterable[tuple[str, Any]]) -> list[str]:
    return sorted(json.dumps(event, sort_keys=True) for event in events)


def sender_of(message: Mapping[str, Any]) -> str:
    return str(message.get("from") or message["from_user_id"])


def name_of(payload: Mapping[str, Any], message: Mapping[str, Any]) -> str | None:
    """The profile name the POST gave the message's sender, if any."""
    for entry in payload["entry"]:
        for change in entry["changes"]:
            if message not in change["value"].get("messages", []):
                continue
            for contact in change["value"].get("contacts", []):
                if contact.get("wa_id") == message.get("from") or (
                    "from_user_id" in message and contact.get("user_id") == message["from_user_id"]
                ):
                    return (contact.get("profile") or {}).get("name")
    return None


PROFILE_VIEW = (
    "wa_id",
    "profile_name",
    "last_inbound_at",
    "last_inbound_wamid",
    "opted_in",
    "consent_reason",
    "consent_at",
    "marketing_stopped",
    "marketing_stopped_at",
    "marketing_reason",
    "changed_to",
    "changed_at",
    "previous_wa_ids",
)


def profile_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's meaningful attributes (order keys left out), with DynamoDB numbers as ints."""
    view: dict[str, Any] = {}
    for name in PROFILE_VIEW:
        if name in item:
            value = item[name]
            view[name] = int(value) if name.endswith("_at") else value
    return view


def expected_profile(wa_id: str, profile: Profile, messages: list[dict[str, Any]]) -> dict[str, Any]:
    view: dict[str, Any] = {"wa_id": wa_id}
    if profile.name is not None:
        view["profile_name"] = profile.name
    if profile.last is not None:
        view["last_inbound_at"] = int(messages[profile.last]["timestamp"])
        view["last_inbound_wamid"] = messages[profile.last]["id"]
    if profile.opted_in is not None:
        view.update(
            opted_in=profile.opted_in, consent_reason=profile.consent_reason, consent_at=profile.consent_at
        )
    if profile.marketing_stopped_at is not None:
        view.update(
            marketing_stopped=profile.marketing_stopped,
            marketing_stopped_at=profile.marketing_stopped_at,
            marketing_reason=profile.marketing_reason,
        )
    if profile.changed_to is not None:
        view.update(changed_to=profile.changed_to, changed_at=profile.changed_at)
    if profile.previous_wa_ids:
        view["previous_wa_ids"] = set(profile.previous_wa_ids)
    return view


# --------------------------------------------------------------------------------- tests
def test_every_fixture_has_expectations() -> None:
    # Catches entries left behind by a renamed fixture; the parametrized test catches the reverse.
    assert len(FIXTURE_PATHS) >= 48
    assert set(EXPECTED) <= {path.stem for path in FIXTURE_PATHS}


def catalog_updates(events: list[dict[str, Any]], items: Mapping[Any, dict[str, Any]]) -> set[Any]:
    """A template webhook also updates its template in the catalog: the keys of those items."""
    keys = set()
    for item in events:
        change = template_change(item["field"], json.loads(item["raw"]))
        if change is not None:
            key = ("TEMPLATES", f"TEMPLATE#{change.name}#{change.language}")
            assert items[key]["status"] == change.status
            assert items[key]["source"] == item["field"]
            keys.add(key)
    return keys


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda path: path.stem)
def test_fixture_is_stored(path: Path, processor: LocalFunction, stack: LocalStack) -> None:
    expected = EXPECTED.get(path.stem)
    assert expected is not None, f"add the items {path.name} must store to EXPECTED"
    body = path.read_text(encoding="utf-8")
    payload = json.loads(body)
    deliver(processor, body)

    store = store_of(stack)
    items = {(item["pk"], item["sk"]): item for item in table_items(stack)}
    stored_keys: set[tuple[str, str]] = set()

    # Every update is held by its typed items (below), so the body itself is not archived.
    digest = hashlib.sha256(body.encode()).hexdigest()
    assert (f"RAW#{digest}", "RAW") not in items
    assert store.raw_payloads(DAY) == []

    # Inbound messages: in the sender's partition, in time order; type, text, the message
    # verbatim, and what the POST said around it (envelope, the sender's name).
    messages = messages_of(payload)
    assert len(messages) == len(expected.messages)
    for sent, want in zip(messages, expected.messages, strict=True):
        key = (f"CONTACT#{want.wa_id}", f"MSG#{time_key(int(sent['timestamp']), sent['id'])}")
        item = items[key]
        stored_keys.add(key)
        assert item["type"] == want.type
        # The listed text is rendered from the message as sent, not stored a second time.
        assert "text" not in item
        (view,) = [m for m in store.conversation(want.wa_id, limit=None) if m["wamid"] == sent["id"]]
        assert (view["type"], view.get("text"), view["direction"]) == (want.type, want.text, "inbound")
        assert (view["wa_id"], view["timestamp"]) == (want.wa_id, int(sent["timestamp"]))
        assert sender_of(sent) == want.wa_id
        assert json.loads(item["raw"]) == sent
        assert (item["phone_number_id"], item["display_phone_number"]) == ("123456789012345", "15550001234")
        assert item["entry_id"] == "102290129340398"
        assert item.get("name") == name_of(payload, sent)
        assert item.get("reply_to") == (sent.get("context") or {}).get("id")
        # No index entry, and nothing the key already says.
        assert not {"gsi1pk", "gsi2pk", "wamid", "wa_id", "timestamp", "direction"} & set(item)

    # Conversations: each contact's messages in time order through gsi1.
    conversations = expected.conversations
    if conversations is None:
        by_contact: dict[str, list[int]] = {}
        for index, want in enumerate(expected.messages):
            by_contact.setdefault(want.wa_id, []).append(index)
        conversations = {wa_id: tuple(indices) for wa_id, indices in by_contact.items()}
    for wa_id, order in conversations.items():
        assert [m["wamid"] for m in store.conversation(wa_id)] == [messages[i]["id"] for i in order]

    # Statuses: one history item per event, verbatim; the message's current status.
    statuses = statuses_of(payload)
    for sent in statuses:
        key = (f"MSG#{sent['id']}", f"STATUS#{int(sent['timestamp']):010d}#{sent['status']}")
        item = items[key]
        stored_keys.add(key)
        assert (item["status"], int(item["timestamp"])) == (sent["status"], int(sent["timestamp"]))
        assert item["recipient_id"] == sent["recipient_id"]
        assert json.loads(item["raw"]) == sent
        assert item.get("error_codes") == ([e["code"] for e in sent["errors"]] if "errors" in sent else None)
        assert item.get("pricing_category") == (sent.get("pricing") or {}).get("category")
    wamids = list(dict.fromkeys(status["id"] for status in statuses))
    assert len(wamids) == len(expected.statuses)
    for wamid, want_status in zip(wamids, expected.statuses, strict=True):
        message = store.message(wamid)
        assert message is not None
        of_wamid = [status for status in statuses if status["id"] == wamid]
        assert [h["status"] for h in message["history"]] == [
            s["status"] for s in sorted(of_wamid, key=lambda s: int(s["timestamp"]))
        ]
        if want_status is None:
            assert "status" not in message
            continue
        stored_keys.add((f"MSG#{wamid}", "MESSAGE"))
        assert message["status"] == want_status
        newest = max((s for s in of_wamid if s["status"] == want_status), key=lambda s: int(s["timestamp"]))
        assert int(message["status_at"]) == int(newest["timestamp"])
        assert message["recipient_id"] == newest["recipient_id"]
        if want_status == "failed":
            assert json.loads(message["status_errors"]) == [
                {key: value for key, value in error.items() if value is not None}
                for error in newest["errors"]
            ]
            assert message["gsi2pk"] == f"FAILED#{DAY}"
        else:
            assert "gsi2pk" not in message
    assert {item["wamid"] for item in store.failed_messages(DAY)} == {wamids[i] for i in expected.failed}

    # Profiles: exactly the expected state, as the sender reads it. A profile item is written only
    # for what no message says by itself: consent, a marketing stop, a number change.
    for wa_id, profile in expected.profiles.items():
        stored_profile = store.profile(wa_id)
        assert stored_profile is not None, wa_id
        assert profile_view(stored_profile) == expected_profile(wa_id, profile, messages)
        if (
            profile.opted_in is not None
            or profile.marketing_stopped_at
            or profile.changed_to
            or profile.previous_wa_ids
        ):
            stored_keys.add((f"CONTACT#{wa_id}", "PROFILE"))

    # Other fields and value-level errors: one EVENT# item each, verbatim.
    events = [item for key, item in items.items() if key[0].startswith("EVENT#")]
    assert sorted(item["field"] for item in events) == sorted(expected.events)
    assert canonical((item["field"], json.loads(item["raw"])) for item in events) == canonical(
        events_of(payload)
    )
    assert all(item["entry_id"] == "102290129340398" for item in events)
    stored_keys.update((item["pk"], item["sk"]) for item in events)

    stored_keys.update(catalog_updates(events, items))

    # A contact named by both its number and its business-scoped id: the id leads to the number.
    for user_id, wa_id in named_by_both(payload):
        key = (f"USER#{user_id}", "LINK")
        assert items[key]["wa_id"] == wa_id
        assert store.contact_of(user_id) == wa_id
        stored_keys.add(key)

    # Nothing else.
    assert set(items) == stored_keys


def named_by_both(payload: dict[str, Any]) -> set[tuple[str, str]]:
    """(business-scoped id, number) of each contact the payload names by both."""
    pairs: set[tuple[str, str]] = set()
    for entry in payload["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            if change["field"] == "user_preferences":
                for named in (*value.get("contacts", []), *value.get("user_preferences", [])):
                    if "user_id" in named and "wa_id" in named:
                        pairs.add((named["user_id"], named["wa_id"]))
            if change["field"] != "messages":
                continue
            pairs |= {
                (c["user_id"], c["wa_id"])
                for c in value.get("contacts", [])
                if "user_id" in c and "wa_id" in c
            }
            pairs |= {
                (m["from_user_id"], m["from"])
                for m in value.get("messages", [])
                if "from_user_id" in m and "from" in m
            }
            pairs |= {
                (s["recipient_user_id"], s["recipient_id"])
                for s in value.get("statuses", [])
                if "recipient_user_id" in s and "recipient_id" in s
            }
    return pairs


@pytest.mark.parametrize("path", FIXTURE_PATHS[::5], ids=lambda path: path.stem)
def test_with_raw_archive_all_every_post_is_archived_as_well(
    path: Path, archiving_processor: LocalFunction, stack: LocalStack
) -> None:
    body = path.read_text(encoding="utf-8")
    deliver(archiving_processor, body)
    items = {(item["pk"], item["sk"]): item for item in table_items(stack)}
    # The raw body, archived byte for byte under its hash, listed by day, with its TTL.
    digest = hashlib.sha256(body.encode()).hexdigest()
    raw = items.pop((f"RAW#{digest}", "RAW"))
    assert raw["body"] == body
    assert raw["gsi1pk"] == f"RAW#{DAY}"
    assert int(raw["expires_at"]) == RECEIVED_AT_MS // 1000 + RETENTION_DAYS * 86_400
    assert [item["sha256"] for item in store_of(stack).raw_payloads(DAY)] == [digest]
    # Beside the typed items, which are the same as without the archive.
    assert len(items) >= 1


def test_stop_then_start_opts_in_whatever_the_order(processor: LocalFunction, stack: LocalStack) -> None:
    stop = (FIXTURES / "message_text_stop.json").read_text()
    start = (FIXTURES / "message_text_start.json").read_text()
    deliver(processor, start)
    deliver(processor, stop)
    profile = store_of(stack).profile(KERRY)
    assert profile is not None
    # START (1763700860) is later than STOP (1763700800), so it wins though it arrived first.
    assert (profile["opted_in"], profile["consent_reason"]) == (True, "keyword:START")
    assert profile["last_inbound_at"] == 1763700860


def test_marketing_stop_and_consent_share_the_profile(processor: LocalFunction, stack: LocalStack) -> None:
    for name in ("status_failed_marketing_opt_out", "message_text_stop", "message_text"):
        deliver(processor, (FIXTURES / f"{name}.json").read_text())
    profile = store_of(stack).profile(KERRY)
    assert profile is not None
    assert profile_view(profile) == {
        "wa_id": KERRY,
        "profile_name": "Kerry Fisher",
        "last_inbound_at": 1763700800,  # the STOP message, later than message_text's
        "last_inbound_wamid": messages_of(json.loads((FIXTURES / "message_text_stop.json").read_text()))[0][
            "id"
        ],
        "opted_in": False,
        "consent_reason": "keyword:STOP",
        "consent_at": 1763700800,
        "marketing_stopped": True,
        "marketing_stopped_at": 1763701360,
        "marketing_reason": "error:131050",
    }


def test_one_post_with_an_unknown_type_an_unknown_field_and_a_contactless_status(
    processor: LocalFunction, stack: LocalStack
) -> None:
    body = (FIXTURES / "batch_unknown_type_field_and_status.json").read_text()
    payload = json.loads(body)
    message = messages_of(payload)[0]
    status = statuses_of(payload)[0]
    (preferences,) = [c for e in payload["entry"] for c in e["changes"] if c["field"] == "user_preferences"]
    status_changes = [c["value"] for e in payload["entry"] for c in e["changes"] if "statuses" in c["value"]]
    assert all("contacts" not in value for value in status_changes)

    deliver(processor, body)
    store = store_of(stack)
    items = {(item["pk"], item["sk"]): item for item in table_items(stack)}

    # The unknown type: stored with its body, which only the raw copy carries.
    stored = items[(f"CONTACT#{KERRY}", f"MSG#{time_key(int(message['timestamp']), message['id'])}")]
    assert stored["type"] == "poll_response"
    assert json.loads(stored["raw"])["poll_response"] == message["poll_response"]
    assert [m["wamid"] for m in store.conversation(KERRY)] == [message["id"]]
    # The status without contacts: history (unknown keys kept) and current status.
    current = store.message(status["id"])
    assert current is not None
    assert current["status"] == "sent"
    assert current["recipient_id"] == KERRY
    assert [json.loads(h["raw"]) for h in current["history"]] == [status]
    assert (
        json.loads(current["history"][0]["raw"])["recipient_parent_user_id"] == "US.ENT.11815799212886844830"
    )
    # Named by both, the contact's business-scoped id now leads to the number.
    assert items[("USER#US.13491208655302741918", "LINK")]["wa_id"] == KERRY
    assert store.contact_of("US.13491208655302741918") == KERRY
    # The unknown field: verbatim, ordered by the entry's time.
    (event,) = [item for key, item in items.items() if key[0] == "EVENT#user_preferences"]
    assert json.loads(event["raw"]) == preferences["value"]
    assert event["sk"].startswith("1763702420#102290129340398#")
    # And nothing else: the typed items hold the whole POST.
    assert not [key for key in items if key[0].startswith("RAW#")]


def test_redelivery_changes_nothing_but_an_earlier_receipt_is_kept(
    archiving_processor: LocalFunction, stack: LocalStack
) -> None:
    processor = archiving_processor
    body = (FIXTURES / "batch_mixed.json").read_text()
    deliver(processor, body, message_id="b0f3c1de-0000-4000-8000-000000000002")
    once = table_items(stack)
    deliver(processor, body, message_id="b0f3c1de-0000-4000-8000-000000000002")
    assert table_items(stack) == once
    # The same POST queued again under another SQS message id, with the same receipt time: the
    # smaller id is kept, whichever was processed first.
    deliver(processor, body, message_id="b0f3c1de-0000-4000-8000-000000000001")
    digest = hashlib.sha256(body.encode()).hexdigest()
    after = {(item["pk"], item["sk"]): item for item in table_items(stack)}
    assert after[(f"RAW#{digest}", "RAW")]["sqs_message_id"] == "b0f3c1de-0000-4000-8000-000000000001"
    assert {key: item for key, item in after.items() if key[0] != f"RAW#{digest}"} == {
        (item["pk"], item["sk"]): item for item in once if item["pk"] != f"RAW#{digest}"
    }
