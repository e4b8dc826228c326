"""What counts as naming a contact when erasing them (wacloud.table.erasure.mentions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wacloud.table.erasure import item_kind, mentions

WA_ID = "16505551234"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (WA_ID, True),
        ("+" + WA_ID, True),
        (json.dumps({"from": WA_ID, "text": {"body": "hi"}}), True),
        (json.dumps({"contacts": [{"phones": [{"phone": "+1 650 555 1234", "wa_id": WA_ID}]}]}), True),
        ("reminder:2026-12-01:" + WA_ID, True),
        ("call me on " + WA_ID + ", thanks", True),
        ({"nested": [{"recipient_id": WA_ID}]}, True),
        ("1" + WA_ID, False),  # another, longer number
        (WA_ID + "0", False),
        (json.dumps({"from": "16505559876", "id": "wamid.X"}), False),
        (12345, False),
        (None, False),
    ],
)
def test_a_value_names_the_contact_only_by_a_whole_id(value: Any, expected: bool) -> None:
    assert mentions(value, WA_ID) is expected


@pytest.mark.parametrize(
    ("pk", "sk", "kind"),
    [
        ("CONTACT#1", "PROFILE", "profile"),
        ("CONTACT#1", "MSG#0000000001#wamid.A", "inbound message"),
        ("MSG#wamid.A", "MESSAGE", "outbound message"),
        ("MSG#wamid.A", "STATUS#0000000001#sent", "status"),
        ("RAW#ab", "RAW", "raw payload"),
        ("RAW#ab", "UNTYPED#entry[0]", "untyped part"),
        ("RAW#ab", "FAILURE", "failure note"),
        ("SEND#x", "FAILED", "failed send"),
        ("IDEMPOTENCY#k", "CLAIM", "idempotency claim"),
        ("EVENT#user_preferences", "0000000001#1#ab", "event"),
    ],
)
def test_each_item_is_named_for_people(pk: str, sk: str, kind: str) -> None:
    assert item_kind({"pk": pk, "sk": sk}) == kind
