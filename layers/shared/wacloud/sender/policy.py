"""Who may be sent what, decided from the contact's profile before anything reaches Meta.

- 24-hour customer service window: a free-form message (anything but a template and
  mark-as-read) goes only to a contact whose last message arrived less than 24 hours ago. Meta
  would refuse it with 131047 anyway; refusing locally saves the request, keeps the number's
  quality rating, and says why before a retry loop starts.
- Opt-out: a contact whose latest consent keyword was STOP (``opted_in`` false) gets no
  business-initiated message, that is no template. Replies inside the window are still allowed:
  Meta permits customer-service replies, and a user who writes after STOP expects an answer.
- Marketing stopped (Meta's 131050): marketing templates are not sent to a contact Meta reported
  as having stopped marketing messages, by a 131050 failure or by the user's own stop
  (``user_preferences`` webhook), until the user resumes them (the newest of these wins).
  ``marketing`` comes from the template catalog's category when it knows the template
  (:mod:`wacloud.sender.catalog`), else from the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wacloud.meta.error_codes import OPTED_OUT_OF_MARKETING
from wacloud.meta.outbound import SendError
from wacloud.table.facets import MARKETING_PREFERENCE_PREFIX
from wacloud.table.store import WINDOW_SECONDS

if TYPE_CHECKING:
    from wacloud.meta.outbound import OutboundItem

REENGAGEMENT_REQUIRED = 131047
REFUSED_BEFORE_SENDING = "Refused before sending"


def window_open(profile: Mapping[str, Any] | None, now: float, phone_number_id: str | None = None) -> bool:
    """Whether the contact wrote in the last 24 hours: to ``phone_number_id``, when given (a window
    is per business number; a message that named no number counts for every one)."""
    profile = profile or {}
    if phone_number_id is None:
        last_inbound = profile.get("last_inbound_at")
    else:
        windows: Mapping[str, Any] = profile.get("windows") or {}
        times = [windows[key] for key in (phone_number_id, "") if windows.get(key) is not None]
        last_inbound = max(times) if times else None
    if last_inbound is None:
        return False
    return now - int(last_inbound) < WINDOW_SECONDS


def opted_out(profile: Mapping[str, Any] | None) -> bool:
    """The contact said STOP last. A contact who never said STOP or START is not opted out."""
    return (profile or {}).get("opted_in") is False


def refusal(
    item: OutboundItem,
    profile: Mapping[str, Any] | None,
    now: float,
    *,
    marketing: bool = False,
    phone_number_id: str | None = None,
) -> SendError | None:
    """Why ``item`` must not be sent to its recipient now (from ``phone_number_id``, when given),
    or None when it may be."""
    if item.addressee is None:
        return None
    if item.is_template:
        if opted_out(profile):
            return SendError(
                code=OPTED_OUT_OF_MARKETING,
                title="Contact opted out",
                message=f"{REFUSED_BEFORE_SENDING}: the contact opted out (STOP); templates are not sent "
                "to opted-out contacts until they opt in again (START).",
                retryable=False,
            )
        if marketing and (profile or {}).get("marketing_stopped") is True:
            how = (
                "the user stopped them in WhatsApp (user_preferences); they are sent again once the "
                "user resumes them"
                if str((profile or {}).get("marketing_reason", "")).startswith(MARKETING_PREFERENCE_PREFIX)
                else "131050"
            )
            return SendError(
                code=OPTED_OUT_OF_MARKETING,
                title="Contact stopped marketing messages",
                message=f"{REFUSED_BEFORE_SENDING}: Meta reported that this contact stopped marketing "
                f"messages from the business ({how}).",
                retryable=False,
            )
        return None
    if item.requires_open_window and not window_open(profile, now, phone_number_id):
        to_number = f" to business number {phone_number_id}" if phone_number_id is not None else ""
        return SendError(
            code=REENGAGEMENT_REQUIRED,
            title="Re-engagement message",
            message=f"{REFUSED_BEFORE_SENDING}: the contact has not written{to_number} in the last 24 "
            "hours, so only a template message can reach them from it.",
            hint="Send an approved template instead, or wait until the contact writes.",
            retryable=False,
        )
    return None
