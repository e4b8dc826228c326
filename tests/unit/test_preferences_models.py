"""The model of Meta's ``user_preferences`` entries: what each means, who it is about, and what is
set aside when an entry cannot be typed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wacloud.meta.preferences import UserPreference, preference_contact, read_preferences
from walocal.events import EVENTS_DIR

STOP = json.loads((EVENTS_DIR / "webhooks" / "field_user_preferences_stop.json").read_text())
VALUE: dict[str, Any] = STOP["entry"][0]["changes"][0]["value"]


@pytest.mark.parametrize(
    ("category", "value", "stopped"),
    [
        ("marketing_messages", "stop", True),
        ("marketing_messages", "resume", False),
        ("marketing_messages", "snooze", None),  # a value Meta may add: kept, not applied
        ("service_messages", "stop", None),  # another category: kept, not applied
    ],
)
def test_only_marketing_stops_and_resumes_mean_something(
    category: str, value: str, stopped: bool | None
) -> None:
    entry = {**VALUE["user_preferences"][0], "category": category, "value": value}
    assert UserPreference.model_validate(entry).marketing_stopped is stopped


def test_the_contact_is_the_number_else_the_business_scoped_id() -> None:
    entry = VALUE["user_preferences"][0]
    both = UserPreference.model_validate({**entry, "user_id": "US.13491208655302741918"})
    assert preference_contact(both) == "16505551234"
    only_bsuid = {key: value for key, value in entry.items() if key != "wa_id"}
    alone = UserPreference.model_validate({**only_bsuid, "user_id": "US.13491208655302741918"})
    assert preference_contact(alone) == "US.13491208655302741918"


def test_a_fixture_reads_whole_and_unknown_fields_are_kept() -> None:
    entry = {**VALUE["user_preferences"][0], "parent_user_id": "US.ENT.1181"}
    read = read_preferences({**VALUE, "user_preferences": [entry]}, "entry[0].changes[0].value")
    assert read.untyped == []
    (preference,) = read.preferences
    assert (preference.timestamp, preference.model_extra) == (1763703000, {"parent_user_id": "US.ENT.1181"})


def test_each_entry_is_typed_alone() -> None:
    good = VALUE["user_preferences"][0]
    entries = [{**good, "timestamp": "soon"}, good, {"category": "marketing_messages", "value": "stop"}, 7]
    read = read_preferences({"user_preferences": entries}, "v")
    assert [preference_contact(p) for p in read.preferences] == ["16505551234"]
    assert [(part.path, part.kind) for part in read.untyped] == [
        ("v.user_preferences[0]", "user_preference"),
        ("v.user_preferences[2]", "user_preference"),
        ("v.user_preferences[3]", "user_preference"),
    ]
    # The reason names the field, never the value.
    assert "timestamp" in read.untyped[0].error
    assert "soon" not in read.untyped[0].error
    assert read.untyped[1].raw == entries[2]


@pytest.mark.parametrize(
    ("raw", "kind"), [({"wa_id": "1"}, "an object"), ("stop", "a string"), (3, "a number")]
)
def test_a_list_that_is_not_one_is_set_aside_whole(raw: Any, kind: str) -> None:
    read = read_preferences({"user_preferences": raw}, "v")
    assert read.preferences == []
    (part,) = read.untyped
    assert (part.path, part.kind, part.raw, part.error) == (
        "v.user_preferences",
        "user_preferences",
        raw,
        f"{kind}, not a list",
    )


def test_a_value_without_preferences_has_none() -> None:
    read = read_preferences({"messaging_product": "whatsapp"}, "v")
    assert (read.preferences, read.untyped) == ([], [])
