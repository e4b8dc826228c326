"""Typed model of Meta's ``user_preferences`` webhook: a user stopping or resuming marketing messages.

A change with ``field == "user_preferences"`` carries, beside ``messaging_product``, ``metadata``
and ``contacts`` as a ``messages`` change does, a list ``user_preferences``::

    {"wa_id": "16505551234", "detail": "User requested to stop marketing messages",
     "category": "marketing_messages", "value": "stop", "timestamp": 1763702415}

``user_id`` (the business-scoped user id) may come beside ``wa_id`` or instead of it, for users
who hide their number. Only ``category`` ``marketing_messages`` with ``value`` ``stop`` or
``resume`` means something to the pipeline today; other categories and values are typed all the
same (the change is kept verbatim as an event) and simply not applied. A preference the model
cannot type (no user, no time) is set aside as an :class:`~wacloud.meta.inbound.UntypedPart`, alone:
the others of the list are read as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import ValidationError, model_validator

from wacloud.meta.inbound import KeyText, Timestamp, UntypedPart, WebhookModel, describe_validation_error

__all__ = [
    "FIELD",
    "MARKETING_MESSAGES",
    "RESUME",
    "STOP",
    "ReadPreferences",
    "UserPreference",
    "preference_contact",
    "read_preferences",
]

FIELD = "user_preferences"
_KINDS: dict[type, str] = {dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}
MARKETING_MESSAGES = "marketing_messages"
STOP = "stop"
RESUME = "resume"


class UserPreference(WebhookModel):
    """One preference a user set: ``category`` (``marketing_messages``), ``value`` (``stop``,
    ``resume``), when (``timestamp``, epoch seconds), and who (``wa_id`` and/or ``user_id``)."""

    wa_id: KeyText | None = None
    user_id: KeyText | None = None
    detail: str | None = None
    category: str
    value: str
    timestamp: Timestamp

    @model_validator(mode="after")
    def _names_a_user(self) -> Self:
        if not self.wa_id and not self.user_id:
            raise ValueError("names no user: neither wa_id nor user_id")
        return self

    @property
    def marketing_stopped(self) -> bool | None:
        """True for a stop of marketing messages, False for a resume; None for anything else (another
        category or value: kept with the change, not applied)."""
        if self.category != MARKETING_MESSAGES:
            return None
        return {STOP: True, RESUME: False}.get(self.value)


def preference_contact(preference: UserPreference, links: Mapping[str, str] | None = None) -> str:
    """The contact a preference is about: the phone number (``wa_id``), else the number the
    business-scoped user id is linked to (``links``, as for messages), else that id (``user_id``)
    for a contact known without a number. The one place this choice is made."""
    if preference.wa_id:
        return preference.wa_id
    user_id = preference.user_id or ""  # the model refuses a preference naming neither
    return (links or {}).get(user_id, user_id)


@dataclass(frozen=True)
class ReadPreferences:
    """The typed preferences of a change's value, and those set aside because they could not be."""

    preferences: list[UserPreference]
    untyped: list[UntypedPart]


def read_preferences(value: Mapping[str, Any], path: str) -> ReadPreferences:
    """Type each preference of a ``user_preferences`` change's ``value`` on its own; ``path`` is
    where the value is in the POST (``entry[0].changes[1].value``), for the parts set aside."""
    raw = value.get(FIELD)
    if raw is None:
        return ReadPreferences([], [])
    if not isinstance(raw, list):
        kind = _KINDS.get(type(raw), "a number")
        return ReadPreferences([], [UntypedPart(f"{path}.{FIELD}", FIELD, raw, f"{kind}, not a list")])
    typed: list[UserPreference] = []
    untyped: list[UntypedPart] = []
    for index, item in enumerate(raw):
        try:
            typed.append(UserPreference.model_validate(item))
        except ValidationError as exc:
            untyped.append(
                UntypedPart(
                    f"{path}.{FIELD}[{index}]", "user_preference", item, describe_validation_error(exc)
                )
            )
    return ReadPreferences(typed, untyped)
