"""What a change on the table's stream means: the table's own reading of its items' old and new images.

The table's stream (new and old images) carries every committed write. Only this package knows the
items, so it says which writes matter to the business, each as a typed change; what to publish for
them is the events floor's business. A write that changed nothing a reader sees (a redelivered
webhook, a status older than the stored one, the sender's record next to a status that came
first) means nothing here, so it is published as nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from wacloud.table.facets import MARKETING_STOPPED_BY_ERROR, STATUS_RANK
from wacloud.table.keys import (
    INBOUND_SK_PREFIX,
    MESSAGE_SK,
    PROFILE_SK,
    RAW_SK,
    UNTYPED_SK_PREFIX,
    inbound_of,
    wa_id_of,
)
from wacloud.table.media import media_view

_CONTACT = "CONTACT#"
_MESSAGE = "MSG#"
_EVENT = "EVENT#"
_RAW = "RAW#"
_REJECTED_DAY = "REJECTED#"

ChangeName = Literal["INSERT", "MODIFY", "REMOVE"]


@dataclass(frozen=True)
class TableChange:
    """One stream record: the item's images before and after a committed write."""

    name: ChangeName
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @property
    def keys(self) -> tuple[str, str]:
        image = self.new if self.new is not None else self.old or {}
        return str(image.get("pk", "")), str(image.get("sk", ""))


@dataclass(frozen=True)
class InboundStored:
    """A message a contact sent, stored for the first time (the item as readers see it)."""

    message: Mapping[str, Any]


@dataclass(frozen=True)
class MediaKept:
    """What became of a received message's media: stored in the bucket, or unavailable at Meta."""

    wa_id: str
    wamid: str
    timestamp: int
    type: str
    phone_number_id: str | None
    media: Mapping[str, Any]


@dataclass(frozen=True)
class StatusAdvanced:
    """An outbound message's current status moved forward (never back: ranks only grow)."""

    wamid: str
    status: str
    previous: str | None
    rank: int
    timestamp: int
    recipient_id: str | None
    wa_id: str | None
    phone_number_id: str | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    pricing: dict[str, Any] | None = None


@dataclass(frozen=True)
class ContactChanged:
    """A fact about a contact changed: consent, marketing stop or resume, number change."""

    wa_id: str
    change: Literal["opted_in", "opted_out", "marketing_stopped", "marketing_resumed", "number_changed"]
    order_key: str
    timestamp: int
    reason: str | None = None
    changed_to: str | None = None


@dataclass(frozen=True)
class FieldEventStored:
    """A change of a webhook field other than messages (templates, quality, account), kept as sent."""

    field: str
    sort_key: str
    entry_id: str | None
    value: Any


@dataclass(frozen=True)
class PayloadRejected:
    """A payload the processor could not type (``path`` None), or one part of one it could."""

    sha256: str
    reason: str
    path: str | None = None
    kind: str | None = None


Meaning = InboundStored | MediaKept | StatusAdvanced | ContactChanged | FieldEventStored | PayloadRejected


def meanings(change: TableChange) -> list[Meaning]:
    """What a committed write means to the business, in the order it happened; often nothing."""
    pk, sk = change.keys
    new = change.new
    if new is None:
        return []  # a removal (TTL, an operator) is bookkeeping, never news
    if pk.startswith(_CONTACT) and sk.startswith(INBOUND_SK_PREFIX):
        if change.name == "INSERT":
            return [_inbound(new)]
        kept = _media_kept(pk, sk, change.old or {}, new)
        return [kept] if kept is not None else []
    if pk.startswith(_CONTACT) and sk == PROFILE_SK:
        return list(_profile_changes(wa_id_of(pk), change.old or {}, new))
    if pk.startswith(_MESSAGE) and sk == MESSAGE_SK:
        advanced = _status_advanced(pk.removeprefix(_MESSAGE), change.old or {}, new)
        return [advanced] if advanced is not None else []
    if pk.startswith(_EVENT) and change.name == "INSERT":
        return [
            FieldEventStored(
                field=pk.removeprefix(_EVENT),
                sort_key=sk,
                entry_id=_text(new.get("entry_id")),
                value=_json(new.get("raw")),
            )
        ]
    if pk.startswith(_RAW):
        return _rejections(pk.removeprefix(_RAW), sk, change)
    return []


def _inbound(new: Mapping[str, Any]) -> InboundStored:
    from wacloud.table.items import inbound_view  # noqa: PLC0415 (models load only for messages)

    return InboundStored(inbound_view(new))


def _media_kept(pk: str, sk: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> MediaKept | None:
    """The media job's record, when it is new; or the record a redelivered webhook's put of the
    message just dropped (the put holds only what the webhook says): said again, so that the media
    function puts it back, and consumers see the same event again (same id)."""
    media = media_view(new.get("media"))
    before = media_view(old.get("media"))
    if media is None:
        media = before  # dropped by a put of the message: the record, again
    elif before is not None and (before.get("state"), before.get("sha256")) == (
        media.get("state"),
        media.get("sha256"),
    ):
        return None
    if media is None:
        return None
    timestamp, wamid = inbound_of(sk)
    return MediaKept(
        wa_id=wa_id_of(pk),
        wamid=wamid,
        timestamp=timestamp,
        type=str(new.get("type") or "unknown"),
        phone_number_id=_text(new.get("phone_number_id")),
        media=media,
    )


def _status_advanced(wamid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> StatusAdvanced | None:
    status = _text(new.get("status"))
    rank = STATUS_RANK.get(status or "")
    if status is None or rank is None:
        return None
    previous = _text(old.get("status"))
    previous_rank = STATUS_RANK.get(previous or "")
    if previous_rank is not None and rank <= previous_rank:
        return None  # the same status again, or the sender's record beside it: nothing moved
    errors = _json(new.get("status_errors")) if status == "failed" else None
    pricing = _json(new.get("status_pricing"))
    return StatusAdvanced(
        wamid=wamid,
        status=status,
        previous=previous,
        rank=rank,
        timestamp=int(new.get("status_at") or 0),
        recipient_id=_text(new.get("recipient_id")),
        wa_id=_text(new.get("wa_id")) or _text(new.get("recipient_id")),
        phone_number_id=_text(new.get("phone_number_id")),
        errors=[dict(error) for error in errors] if isinstance(errors, list) else [],
        pricing=dict(pricing) if isinstance(pricing, dict) else None,
    )


def _profile_changes(wa_id: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ContactChanged]:
    changes = []
    if _moved(old, new, "consent_key"):
        opted_in = bool(new.get("opted_in"))
        changes.append(
            ContactChanged(
                wa_id=wa_id,
                change="opted_in" if opted_in else "opted_out",
                order_key=str(new["consent_key"]),
                timestamp=int(new.get("consent_at") or 0),
                reason=_text(new.get("consent_reason")),
            )
        )
    if _moved(old, new, "marketing_stopped_key"):
        # A 131050 failure or the user's stop sets it true, the user's resume false. Profiles
        # written before preferences were applied carry no reason: only 131050 set it then.
        changes.append(
            ContactChanged(
                wa_id=wa_id,
                change="marketing_resumed" if new.get("marketing_stopped") is False else "marketing_stopped",
                order_key=str(new["marketing_stopped_key"]),
                timestamp=int(new.get("marketing_stopped_at") or 0),
                reason=_text(new.get("marketing_reason")) or MARKETING_STOPPED_BY_ERROR,
            )
        )
    if _moved(old, new, "changed_key"):
        changes.append(
            ContactChanged(
                wa_id=wa_id,
                change="number_changed",
                order_key=str(new["changed_key"]),
                timestamp=int(new.get("changed_at") or 0),
                changed_to=_text(new.get("changed_to")),
            )
        )
    return changes


def _rejections(sha256: str, sk: str, change: TableChange) -> list[Meaning]:
    new = change.new or {}
    if sk.startswith(UNTYPED_SK_PREFIX) and change.name == "INSERT":
        return [
            PayloadRejected(
                sha256=sha256,
                reason=str(new.get("error") or "could not be typed"),
                path=_text(new.get("path")),
                kind=_text(new.get("kind")),
            )
        ]
    old_day = str((change.old or {}).get("gsi2pk") or "")
    new_day = str(new.get("gsi2pk") or "")
    if sk == RAW_SK and new_day.startswith(_REJECTED_DAY) and not old_day.startswith(_REJECTED_DAY):
        return [PayloadRejected(sha256=sha256, reason=str(new.get("rejected") or "rejected"))]
    return []


def _moved(old: Mapping[str, Any], new: Mapping[str, Any], key: str) -> bool:
    return new.get(key) is not None and new.get(key) != old.get(key)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
