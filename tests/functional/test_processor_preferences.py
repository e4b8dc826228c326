"""Meta's ``user_preferences`` webhook through the processor's handler: a user's stop or resume of
marketing messages sets the contact's marketing facet, against 131050 failures by time whatever
the order of arrival; redeliveries change nothing; what cannot be applied is kept, never dropped."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from support.aws import REGION, table_items
from support.processor import METADATA, WABA_ID, fixture_body, sqs_event
from wacloud.table.store import ConversationStore
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

KERRY = "16505551234"
ALEX = "16505559876"
SAM = "US.27718094401935565312"
# The 131050 failure of status_failed_marketing_opt_out.json, to Kerry.
FAILED_AT = 1763701360


@pytest.fixture
def processor(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("ProcessorFunction")


def preference(value: str, timestamp: Any, wa_id: str | None = KERRY, **fields: Any) -> dict[str, Any]:
    pref: dict[str, Any] = {
        "detail": f"User requested to {value} marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": timestamp,
        **fields,
    }
    if wa_id is not None:
        pref["wa_id"] = wa_id
    return pref


def preferences_change(*preferences: Any) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": METADATA,
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": KERRY}],
        "user_preferences": list(preferences),
    }
    return {"value": value, "field": "user_preferences"}


def post(*changes: dict[str, Any], entries: list[Any] | None = None) -> str:
    entry = {"id": WABA_ID, "time": 1763702000, "changes": list(changes)}
    return json.dumps({"object": "whatsapp_business_account", "entry": [*(entries or []), entry]})


def deliver(processor: LocalFunction, body: str | bytes, received_at_ms: int = 1763705500000) -> None:
    assert processor.invoke(sqs_event(body, received_at_ms=received_at_ms)) == {"batchItemFailures": []}


def store_of(stack: LocalStack) -> ConversationStore:
    return ConversationStore(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )


def marketing(stack: LocalStack, wa_id: str = KERRY) -> tuple[Any, ...] | None:
    """The contact's marketing facet as the sender reads it: stopped, when, why."""
    profile = store_of(stack).profile(wa_id)
    if profile is None or "marketing_stopped" not in profile:
        return None
    return (profile["marketing_stopped"], int(profile["marketing_stopped_at"]), profile["marketing_reason"])


def events_of(stack: LocalStack, field: str = "user_preferences") -> list[dict[str, Any]]:
    return [item for item in table_items(stack) if item["pk"] == f"EVENT#{field}"]


def test_a_stop_then_a_resume_set_the_contacts_marketing_state(
    processor: LocalFunction, stack: LocalStack
) -> None:
    deliver(processor, fixture_body("field_user_preferences_stop.json"))
    assert marketing(stack) == (True, 1763703000, "preference:stop")
    deliver(processor, fixture_body("field_user_preferences_resume.json"))
    assert marketing(stack) == (False, 1763703600, "preference:resume")
    # Each change is also kept as Meta sent it.
    assert sorted(json.loads(item["raw"])["user_preferences"][0]["value"] for item in events_of(stack)) == [
        "resume",
        "stop",
    ]


@pytest.mark.parametrize(
    "case",
    [
        # A resume after the failure: marketing templates may go again.
        (FAILED_AT + 100, "resume", (False, FAILED_AT + 100, "preference:resume")),
        # A resume before the failure: the failure is newer, the contact stays stopped.
        (FAILED_AT - 100, "resume", (True, FAILED_AT, "error:131050")),
        # A stop after the failure: stopped, by the user's own choice.
        (FAILED_AT + 100, "stop", (True, FAILED_AT + 100, "preference:stop")),
        # In the same second, the failure wins over a resume: the safer reading.
        (FAILED_AT, "resume", (True, FAILED_AT, "error:131050")),
    ],
)
@pytest.mark.parametrize("preference_first", [True, False], ids=["preference-first", "failure-first"])
def test_the_newest_of_a_131050_failure_and_a_preference_wins_whatever_the_order(
    processor: LocalFunction,
    stack: LocalStack,
    case: tuple[int, str, tuple[Any, ...]],
    preference_first: bool,
) -> None:
    preference_at, value, expected = case
    bodies = [
        post(preferences_change(preference(value, preference_at))),
        fixture_body("status_failed_marketing_opt_out.json").decode(),
    ]
    for body in bodies if preference_first else reversed(bodies):
        deliver(processor, body)
    assert marketing(stack) == expected


def test_stops_and_resumes_in_any_order_and_batching_end_as_the_newest(
    processor: LocalFunction, stack: LocalStack
) -> None:
    times = {"stop": [1763703000, 1763703050], "resume": [1763703100]}
    updates = [(value, at) for value, ats in times.items() for at in ats]
    contacts = []
    # One contact per order of arrival, one POST per update.
    for index, order in enumerate(itertools.permutations(updates)):
        contact = f"1650555{index:04d}"
        contacts.append(contact)
        for value, at in order:
            deliver(processor, post(preferences_change(preference(value, at, wa_id=contact))))
    # And one contact with all three in one POST.
    contacts.append("16505559999")
    batch = [preference(value, at, wa_id=contacts[-1]) for value, at in reversed(updates)]
    deliver(processor, post(preferences_change(*batch)))
    resumed = (False, 1763703100, "preference:resume")
    assert {contact: marketing(stack, contact) for contact in contacts} == dict.fromkeys(contacts, resumed)


def test_a_redelivery_changes_nothing(processor: LocalFunction, stack: LocalStack) -> None:
    deliver(processor, fixture_body("field_user_preferences_stop.json"))
    once = table_items(stack)
    deliver(processor, fixture_body("field_user_preferences_stop.json"), received_at_ms=1763705600000)
    assert table_items(stack) == once
    assert marketing(stack) == (True, 1763703000, "preference:stop")


def test_a_contact_without_a_number_is_its_business_scoped_user_id(
    processor: LocalFunction, stack: LocalStack
) -> None:
    deliver(processor, post(preferences_change(preference("stop", 1763703000, wa_id=None, user_id=SAM))))
    assert marketing(stack, SAM) == (True, 1763703000, "preference:stop")
    # With both, the phone number names the contact.
    deliver(processor, post(preferences_change(preference("stop", 1763703000, wa_id=ALEX, user_id=SAM))))
    assert marketing(stack, ALEX) == (True, 1763703000, "preference:stop")


def test_other_categories_and_values_are_kept_but_not_applied(
    processor: LocalFunction, stack: LocalStack
) -> None:
    change = preferences_change(
        preference("snooze", 1763703000),
        {**preference("stop", 1763703000), "category": "service_messages"},
    )
    deliver(processor, post(change))
    assert store_of(stack).profile(KERRY) is None
    (event,) = events_of(stack)
    assert json.loads(event["raw"]) == change["value"]
    # Typed, so nothing is set aside as untyped either.
    assert not [item for item in table_items(stack) if item["pk"].startswith("RAW#")]


def test_a_malformed_preference_is_kept_untyped_and_the_rest_is_applied(
    processor: LocalFunction, stack: LocalStack
) -> None:
    text = json.loads(fixture_body("message_text.json"))["entry"][0]["changes"][0]
    change = preferences_change(
        preference("stop", "yesterday"),  # no time a key can hold
        preference("stop", 1763703000, wa_id=ALEX),
        preference("resume", 1763703000, wa_id=None),  # names no user
    )
    # An entry the models cannot type comes first: the paths are the POST's, as sent.
    body = post(text, change, entries=["not an entry"])
    deliver(processor, body)

    assert marketing(stack, ALEX) == (True, 1763703000, "preference:stop")
    assert marketing(stack) is None  # Kerry's stop could not be read: not applied
    (event,) = events_of(stack)
    assert json.loads(event["raw"]) == change["value"]  # verbatim, all three
    assert [m["wamid"] for m in store_of(stack).conversation(KERRY)] == [text["value"]["messages"][0]["id"]]
    parts = {item["path"]: item for item in table_items(stack) if item["sk"].startswith("UNTYPED#")}
    prefix = "entry[1].changes[1].value.user_preferences"
    assert set(parts) == {"entry[0]", f"{prefix}[0]", f"{prefix}[2]"}
    assert parts[f"{prefix}[0]"]["kind"] == "user_preference"
    assert "timestamp" in parts[f"{prefix}[0]"]["error"]
    assert "names no user" in parts[f"{prefix}[2]"]["error"]
    assert json.loads(parts[f"{prefix}[2]"]["raw"]) == change["value"]["user_preferences"][2]
    # The payload is archived with them (the untyped parts' reason to exist), once.
    (archive,) = [item for item in table_items(stack) if item["sk"] == "RAW"]
    assert int(archive["untyped"]) == 3


def test_a_preferences_list_that_is_not_one_is_kept_untyped(
    processor: LocalFunction, stack: LocalStack
) -> None:
    change = preferences_change()
    change["value"]["user_preferences"] = preference("stop", 1763703000)
    deliver(processor, post(change))
    assert store_of(stack).profile(KERRY) is None
    (part,) = [item for item in table_items(stack) if item["sk"].startswith("UNTYPED#")]
    assert (part["path"], part["kind"]) == ("entry[0].changes[0].value.user_preferences", "user_preferences")
    assert len(events_of(stack)) == 1


def test_a_business_scoped_id_linked_to_a_number_names_the_numbers_profile(
    processor: LocalFunction, stack: LocalStack
) -> None:
    # A message naming Kerry by both links the id to the number (message_text_user_ids.json).
    deliver(processor, fixture_body("message_text_user_ids.json"))
    bsuid = "US.13491208655302741918"
    deliver(processor, post(preferences_change(preference("stop", 1763703000, wa_id=None, user_id=bsuid))))
    assert marketing(stack) == (True, 1763703000, "preference:stop")
    assert marketing(stack, bsuid) is None
