"""What of an item's facets and constants a stored item does not hold yet (a retry writes only that)."""

from __future__ import annotations

from wacloud.table.facets import Advance, Facet
from wacloud.table.store import message_advance

SENT = Facet("status_key", "1#1763700000#sent", {"status": "sent"})
READ = Facet("status_key", "3#1763700002#read", {"status": "read"})
NAME = Facet("profile_name_key", "1763700000#wamid.A", {"profile_name": "Ada"})


def test_nothing_is_left_when_the_stored_keys_are_as_new_and_the_constants_there() -> None:
    advance = message_advance("wamid.A", [SENT, READ], "16505550001")
    stored = {"status_key": READ.key, "wamid": "wamid.A", "recipient_id": "16505550001"}
    assert advance.beyond(stored) is None
    # A newer stored key than any of the facets': nothing to write either.
    assert advance.beyond({**stored, "status_key": "4#1763700009#failed"}) is None


def test_the_newest_facet_of_each_key_is_left_when_the_stored_one_is_older() -> None:
    advance = Advance("CONTACT#1", "PROFILE", [SENT, READ, NAME], {"wa_id": "1"})
    left = advance.beyond({"status_key": SENT.key, "profile_name_key": NAME.key, "wa_id": "1"})
    assert left == Advance("CONTACT#1", "PROFILE", [READ], {})


def test_missing_constants_are_left_even_when_every_facet_is_stored() -> None:
    advance = message_advance("wamid.A", [READ], "16505550001", "123456789012345")
    left = advance.beyond({"status_key": READ.key, "wamid": "wamid.A"})
    assert left == Advance(
        "MSG#wamid.A", "MESSAGE", [], {"recipient_id": "16505550001", "phone_number_id": "123456789012345"}
    )


def test_an_item_not_stored_is_left_whole() -> None:
    advance = message_advance("wamid.A", [SENT, READ], None)
    assert advance.beyond({}) == Advance("MSG#wamid.A", "MESSAGE", [READ], {"wamid": "wamid.A"})
    assert advance.attributes == {"status_key", "wamid"}
