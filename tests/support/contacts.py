"""Profile writes the tests seed state with: one facet at a time, through the store's own facets.

The pipeline never writes a single facet alone (the processor folds a whole POST), so these live
here rather than in the store.
"""

from __future__ import annotations

from wacloud.table.facets import (
    consent_facet,
    marketing_preference_facet,
    marketing_stopped_facet,
    number_change_facet,
)
from wacloud.table.keys import contact_pk, inbound_sk
from wacloud.table.store import ConversationStore
from wacloud.table.values import compact_json


class SeedingStore(ConversationStore):
    def record_inbound(
        self, wa_id: str, timestamp: int, wamid: str, name: str | None, phone_number_id: str | None = None
    ) -> None:
        """A message from the contact, stored as the processor stores a text: it opens the 24-hour
        window (of ``phone_number_id``'s, when given) and (when given) names the contact."""
        message = {
            "from": wa_id,
            "id": wamid,
            "timestamp": str(timestamp),
            "type": "text",
            "text": {"body": "Hi"},
        }
        item = {
            "pk": contact_pk(wa_id),
            "sk": inbound_sk(timestamp, wamid),
            "type": "text",
            "raw": compact_json(message),
        }
        if name:
            item["name"] = name
        if phone_number_id:
            item["phone_number_id"] = phone_number_id
        self.put_items([item])

    def record_consent(self, wa_id: str, opted_in: bool, timestamp: int, wamid: str, reason: str) -> bool:
        return bool(self.advance_profile(wa_id, [consent_facet(timestamp, wamid, opted_in, reason)]))

    def record_marketing_stopped(self, wa_id: str, timestamp: int, wamid: str) -> bool:
        return bool(self.advance_profile(wa_id, [marketing_stopped_facet(timestamp, wamid)]))

    def record_marketing_preference(self, wa_id: str, timestamp: int, stopped: bool) -> bool:
        """The contact's own stop (``stopped``) or resume of marketing messages (user_preferences)."""
        return bool(self.advance_profile(wa_id, [marketing_preference_facet(timestamp, stopped)]))

    def record_number_change(self, old_wa_id: str, new_wa_id: str, timestamp: int, wamid: str) -> None:
        self.advance_profile(old_wa_id, [number_change_facet(timestamp, wamid, new_wa_id)])
        self.link_previous_number(new_wa_id, old_wa_id)
