"""Facets: the parts of an item that evolve, each written only with a newer order key.

State that evolves (a message's current status, a contact's last inbound message, name, consent)
is split into facets, each with an *order key*: a facet is written only when its key is greater
than the stored one, so each facet ends as the one of its greatest key, whatever the order of
arrival. Keys compare as strings, so they are built from zero-padded numbers (see
:func:`~wacloud.table.keys.time_key`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wacloud.table.keys import day_of, failed_day_pk, seconds_key, time_key
from wacloud.table.values import compact_json

# A failed status's errors as kept on the message item, which later updates must never push past
# DynamoDB's 400 KB: past this, only each error's code and title stay (the status event keeps all).
MAX_STATUS_ERRORS_BYTES = 4_096
MAX_STATUS_ERRORS = 10
MAX_ERROR_TITLE_CHARS = 200

# Where a status stands in a message's life. Statuses not listed (deleted, warning, ...) are kept in
# the history but do not change the current status. `failed` ranks last so it is never replaced.
STATUS_RANK = {
    "accepted": 0,
    "held_for_quality_assessment": 0,
    "sent": 1,
    "delivered": 2,
    "read": 3,
    "failed": 4,
}


@dataclass(frozen=True)
class Facet:
    """A part of an item that evolves on its own: ``values`` are written only with a newer ``key``.

    ``key_attribute`` names the stored order key.
    """

    key_attribute: str
    key: str
    values: Mapping[str, Any]


def newest(facets: Iterable[Facet]) -> list[Facet]:
    """One facet per key attribute, the one with the greatest key: what a series of writes leaves."""
    kept: dict[str, Facet] = {}
    for facet in facets:
        current = kept.get(facet.key_attribute)
        if current is None or facet.key > current.key:
            kept[facet.key_attribute] = facet
    return list(kept.values())


@dataclass(frozen=True)
class Advance:
    """The facets to write on one item, and its ``constants``: attributes with one value for the
    item's whole life (a contact's wa_id, a message's recipient), set whenever they are missing."""

    pk: str
    sk: str
    facets: Sequence[Facet]
    constants: Mapping[str, Any]

    @property
    def attributes(self) -> set[str]:
        """The stored attributes that tell what of it is written already."""
        return {facet.key_attribute for facet in self.facets} | set(self.constants)

    def beyond(self, stored: Mapping[str, Any]) -> Advance | None:
        """What of it ``stored`` (the item's attributes, or a part of them) does not hold yet:
        the facets newer than the stored keys and the constants missing; None when nothing is."""
        facets = [
            facet
            for facet in newest(self.facets)
            if facet.key_attribute not in stored or str(stored[facet.key_attribute]) < facet.key
        ]
        constants = {name: value for name, value in self.constants.items() if name not in stored}
        if not facets and not constants:
            return None
        return Advance(self.pk, self.sk, facets, constants)


# ---------------------------------------------------------------------- facets of a contact profile
def inbound_facet(timestamp: int, wamid: str) -> Facet:
    """The contact's latest inbound message: it opens the 24-hour customer service window."""
    return Facet(
        "last_inbound_key",
        time_key(timestamp, wamid),
        {"last_inbound_at": timestamp, "last_inbound_wamid": wamid},
    )


def name_facet(timestamp: int, wamid: str, name: str) -> Facet:
    """The profile name of the latest message that carried one (system messages carry none)."""
    return Facet("profile_name_key", time_key(timestamp, wamid), {"profile_name": name})


def consent_facet(timestamp: int, wamid: str, opted_in: bool, reason: str) -> Facet:
    """Opt-in state from the contact's latest consent keyword (STOP, START, ...)."""
    return Facet(
        "consent_key",
        time_key(timestamp, wamid),
        {"opted_in": opted_in, "consent_at": timestamp, "consent_reason": reason},
    )


# Why the marketing facet holds what it holds: the status error, or the user's preference.
MARKETING_STOPPED_BY_ERROR = "error:131050"
MARKETING_PREFERENCE_PREFIX = "preference:"


def marketing_stopped_facet(timestamp: int, wamid: str) -> Facet:
    """Error 131050 on a status: the user stopped marketing messages from the business."""
    return Facet(
        "marketing_stopped_key",
        time_key(timestamp, wamid),
        {
            "marketing_stopped": True,
            "marketing_stopped_at": timestamp,
            "marketing_reason": MARKETING_STOPPED_BY_ERROR,
        },
    )


def marketing_preference_facet(timestamp: int, stopped: bool) -> Facet:
    """The user's own stop or resume of marketing messages (Meta's ``user_preferences`` webhook),
    on the same order key as a 131050 failure: the newest of the two wins, whatever the order of
    arrival. ``marketing_stopped_at`` is then the time of the stop or of the resume.

    The tiebreaker sorts ``preference:resume`` before ``preference:stop`` before any wamid, so
    within one second a stop wins over a resume, and a 131050 failure over both: the safer reading.
    """
    reason = f"{MARKETING_PREFERENCE_PREFIX}{'stop' if stopped else 'resume'}"
    return Facet(
        "marketing_stopped_key",
        time_key(timestamp, reason),
        {"marketing_stopped": stopped, "marketing_stopped_at": timestamp, "marketing_reason": reason},
    )


def number_change_facet(timestamp: int, wamid: str, new_wa_id: str) -> Facet:
    """``user_changed_number`` on the old number's profile: the newest change wins."""
    return Facet(
        "changed_key", time_key(timestamp, wamid), {"changed_to": new_wa_id, "changed_at": timestamp}
    )


# The values each of a profile's own facets writes, by key attribute.
PROFILE_FACET_VALUES = {
    "consent_key": ("opted_in", "consent_at", "consent_reason"),
    "marketing_stopped_key": ("marketing_stopped", "marketing_stopped_at", "marketing_reason"),
}


def profile_facets(profile: Mapping[str, Any]) -> list[Facet]:
    """The facets a stored profile holds, as they were written (to write them on another)."""
    return [
        Facet(key, str(profile[key]), {name: profile[name] for name in names if name in profile})
        for key, names in PROFILE_FACET_VALUES.items()
        if key in profile
    ]


# ---------------------------------------------------------------------- facet of a message
def status_facet(
    status: str,
    timestamp: int,
    wamid: str,
    errors: Sequence[Mapping[str, Any]],
    pricing: Mapping[str, Any] | None = None,
) -> Facet | None:
    """The message's current status, ordered by rank then time; None for unranked statuses.

    With the status comes what Meta said it costs (``pricing``), so that the event for the move
    carries it without a read of the status's own item.
    """
    rank = STATUS_RANK.get(status)
    if rank is None:
        return None
    values: dict[str, Any] = {"status": status, "status_at": timestamp}
    if pricing:
        values["status_pricing"] = compact_json(dict(pricing))
    if status == "failed":
        # The sparse index gsi2 lists failed messages by day: only failed messages carry its keys.
        values["status_errors"] = _bounded_errors(errors)
        values["gsi2pk"] = failed_day_pk(day_of(timestamp))
        values["gsi2sk"] = time_key(timestamp, wamid)
    return Facet("status_key", f"{rank}#{seconds_key(timestamp)}#{status}", values)


def _bounded_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    kept = compact_json(list(errors))
    if len(kept.encode("utf-8")) <= MAX_STATUS_ERRORS_BYTES:
        return kept
    return compact_json(
        [
            {"code": error.get("code"), "title": str(error.get("title") or "")[:MAX_ERROR_TITLE_CHARS]}
            for error in errors[:MAX_STATUS_ERRORS]
        ]
    )
