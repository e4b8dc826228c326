"""Profile writes the tests seed state with: one facet at a time, through the store's own facets.

The pipeline never writes a single facet alone (the processor folds a whole POST), so these live
here rather than in the store.
"""

from __future__ import annotations

from wacloud.table.facets import (
    consent_facet,
    inbound_facet,
    marketing_stopped_facet,
    name_facet,
    number_change_facet,
)
from wacloud.table.store import ConversationStore


class SeedingStore(ConversationStore):
    def record_inbound(self, wa_id: str, timestamp: int, wamid: str, name: str | None) -> None:
        """A message from the contact: it opens the 24-hour window and (when given) names the contact."""
        facets = [inbound_facet(timestamp, wamid)]
        if name:
            facets.append(name_facet(timestamp, wamid, name))
        self.advance_profile(wa_id, facets)

    def record_consent(self, wa_id: str, opted_in: bool, timestamp: int, wamid: str, reason: str) -> bool:
        return bool(self.advance_profile(wa_id, [consent_facet(timestamp, wamid, opted_in, reason)]))

    def record_marketing_stopped(self, wa_id: str, timestamp: int, wamid: str) -> bool:
        return bool(self.advance_profile(wa_id, [marketing_stopped_facet(timestamp, wamid)]))

    def record_number_change(self, old_wa_id: str, new_wa_id: str, timestamp: int, wamid: str) -> None:
        self.advance_profile(old_wa_id, [number_change_facet(timestamp, wamid, new_wa_id)])
        self.link_previous_number(new_wa_id, old_wa_id)
