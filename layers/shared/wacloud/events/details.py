"""The event each stored change is published as, with an id derived from the change itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from wacloud.events.models import (
    AccountEvent,
    ContactUpdated,
    EventDetail,
    MediaStored,
    MessageReceived,
    PayloadRejected,
    StatusChanged,
)
from wacloud.table import stream
from wacloud.table.stream import Meaning

# Fixed forever: event ids are uuid5 names in it, so the same change always gets the same id.
EVENT_ID_NAMESPACE = uuid.UUID("6f1d4a52-3c1e-5d2b-9a47-77c0e3f1b8d4")


def event_id(name: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


def detail_of(meaning: Meaning, committed_at: int) -> EventDetail:
    """The event for one meaning of a stored change; ``committed_at`` (the stream record's time, epoch
    seconds) dates what Meta did not."""
    if isinstance(meaning, stream.InboundStored):
        return _message_received(meaning.message)
    if isinstance(meaning, stream.MediaKept):
        return _media_stored(meaning)
    if isinstance(meaning, stream.StatusAdvanced):
        return StatusChanged(
            event_id=event_id(f"status:{meaning.wamid}:{meaning.rank}"),
            phone_number_id=meaning.phone_number_id,
            wa_id=meaning.wa_id,
            timestamp=meaning.timestamp,
            wamid=meaning.wamid,
            status=meaning.status,
            previous_status=meaning.previous,
            recipient_id=meaning.recipient_id,
            errors=meaning.errors,
            pricing=meaning.pricing,
        )
    if isinstance(meaning, stream.ContactChanged):
        return ContactUpdated(
            event_id=event_id(f"contact:{meaning.wa_id}:{meaning.change}:{meaning.order_key}"),
            wa_id=meaning.wa_id,
            timestamp=meaning.timestamp or committed_at,
            change=meaning.change,
            reason=meaning.reason,
            changed_to=meaning.changed_to,
        )
    if isinstance(meaning, stream.FieldEventStored):
        seconds = meaning.sort_key[:10]
        return AccountEvent(
            event_id=event_id(f"field:{meaning.field}:{meaning.sort_key}"),
            timestamp=int(seconds) if seconds.isdigit() and int(seconds) else committed_at,
            field=meaning.field,
            entry_id=meaning.entry_id,
            value=meaning.value,
        )
    return PayloadRejected(
        event_id=event_id(f"rejected:{meaning.sha256}:{meaning.path or ''}"),
        timestamp=committed_at,
        sha256=meaning.sha256,
        reason=meaning.reason,
        path=meaning.path,
        kind=meaning.kind,
    )


def _message_received(message: Mapping[str, Any]) -> MessageReceived:
    wamid = str(message["wamid"])
    raw = message.get("raw")
    try:
        sent = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        sent = {}
    return MessageReceived(
        event_id=event_id(f"message:{wamid}"),
        phone_number_id=_text(message.get("phone_number_id")),
        wa_id=_text(message.get("wa_id")),
        timestamp=int(message.get("timestamp") or 0),
        wamid=wamid,
        type=str(message.get("type") or "unknown"),
        text=_text(message.get("text")),
        name=_text(message.get("name")),
        reply_to=_text(message.get("reply_to")),
        referral=sent.get("referral")
        if isinstance(sent, dict) and isinstance(sent.get("referral"), dict)
        else None,
        display_phone_number=_text(message.get("display_phone_number")),
        message=sent if isinstance(sent, dict) else {"value": sent},
        message_s3=_pointer(message.get("raw_s3")),
    )


def _media_stored(meaning: stream.MediaKept) -> MediaStored:
    media = meaning.media
    state = str(media.get("state"))
    bucket, key = _text(media.get("bucket")), _text(media.get("key"))
    return MediaStored(
        event_id=event_id(f"media:{meaning.wamid}:{state}:{media.get('sha256') or ''}"),
        phone_number_id=meaning.phone_number_id,
        wa_id=meaning.wa_id,
        timestamp=meaning.timestamp,
        wamid=meaning.wamid,
        type=meaning.type,
        state="stored" if state == "stored" else "unavailable",
        media_id=str(media.get("media_id") or ""),
        s3={"bucket": bucket, "key": key, "uri": f"s3://{bucket}/{key}"} if bucket and key else None,
        size=int(media["size"]) if media.get("size") is not None else None,
        mime_type=_text(media.get("mime_type")),
        sha256=_text(media.get("sha256")),
        reason=_text(media.get("reason")),
    )


def _pointer(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
