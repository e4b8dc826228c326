"""Items fully determined by what they record: built here, from Meta's typed updates and the
sender's outcomes, so that no other module spells out an attribute of the key scheme."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from wacloud.meta.summary import inbound_text, outbound_text
from wacloud.table.keys import (
    FAILED_SEND_SK,
    FAILURE_SK,
    RAW_SK,
    USER_LINK_SK,
    contact_pk,
    day_of,
    event_pk,
    failed_day_pk,
    failed_send_pk,
    inbound_of,
    inbound_sk,
    message_pk,
    raw_day_pk,
    raw_pk,
    status_sk,
    time_key,
    untyped_sk,
    user_link_pk,
    wa_id_of,
)
from wacloud.table.spill import INLINE_ITEM_BYTES
from wacloud.table.values import compact_json

if TYPE_CHECKING:
    # Annotations only: the sender writes and reads the table through this module, and loading
    # the webhook payload models would add their schema building to its every cold start (the
    # queue's envelope, its dataclasses).
    from wacloud.meta.inbound import Contact, Entry, InboundMessage, MessagesValue, Status, UntypedPart
    from wacloud.webhook.envelope import QueuedWebhook

# An inbound message's ``text`` is kept on its item only past this much ``raw`` (half the size at
# which an item spills its largest attributes to the bucket).
TEXT_KEPT_PAST_RAW_CHARS = INLINE_ITEM_BYTES // 2
# A failed attempt is worth knowing while its message can still be in the dead-letter queue
# (14 days), and a day more.
FAILURE_TTL_SECONDS = 15 * 86_400


@dataclass(frozen=True)
class RawArchive:
    """A raw payload as received: the body inline, or a pointer to it in the bucket."""

    sha256: str
    size: int
    receipt: QueuedWebhook
    body: str | None = None
    body_pointer: str | None = None
    expires_at: int = 0


@dataclass(frozen=True)
class OutboundRecord:
    """A message Meta accepted from the sender."""

    wamid: str
    wa_id: str
    kind: str
    timestamp: int
    accepted_status: str
    phone_number_id: str
    request: Mapping[str, Any]
    idempotency_key: str | None = None


@dataclass(frozen=True)
class FailedSend:
    """A send that failed before Meta gave it a wamid."""

    send_id: str
    kind: str
    phone_number_id: str
    request: Mapping[str, Any]
    errors: Sequence[Mapping[str, Any]]
    error_code: int
    retryable: bool
    timestamp: int
    wa_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class FailedAttempt:
    """Why the processor could not store a queued webhook this time (it will be retried)."""

    sha256: str
    reason: str
    error: str
    failed_at: int
    sqs_message_id: str
    receive_count: int


def payload_sha256(webhook: QueuedWebhook) -> str:
    """The SHA-256 that names a queued webhook's payload (``RAW#<sha256>``), known before its
    body is read: a pointer carries it; for a pointer that cannot be read, that of the message."""
    if webhook.in_bucket:
        try:
            return webhook.pointer().sha256
        except (ValueError, KeyError, TypeError):
            pass
    return hashlib.sha256(webhook.body.encode("utf-8")).hexdigest()


def sender_id(message: InboundMessage, links: Mapping[str, str] | None = None) -> str | None:
    """Who wrote: the phone number, else the number a business-scoped id is linked to (``links``),
    else the business-scoped user id of a contact known without a number."""
    if message.from_:
        return message.from_
    user_id = message.from_user_id
    return (links or {}).get(user_id, user_id) if user_id else None


def status_recipient(status: Status, links: Mapping[str, str] | None = None) -> str | None:
    """Whom a status is about, as :func:`sender_id` names a contact."""
    if status.recipient_id:
        return status.recipient_id
    user_id = status.recipient_user_id
    return (links or {}).get(user_id, user_id) if user_id else None


def user_link_item(user_id: str, wa_id: str) -> dict[str, Any]:
    """A business-scoped user id's link to the number of the same contact."""
    return {"pk": user_link_pk(user_id), "sk": USER_LINK_SK, "user_id": user_id, "wa_id": wa_id}


def raw_archive_item(archive: RawArchive) -> dict[str, Any]:
    receipt = archive.receipt
    received_s = receipt.received_at_ms // 1000
    item: dict[str, Any] = {
        "pk": raw_pk(archive.sha256),
        "sk": RAW_SK,
        "gsi1pk": raw_day_pk(day_of(received_s)),
        # Lists the day's payloads in order of receipt, and orders the receipts of one body: the
        # ids break ties (one POST queued twice), so which copy is kept does not depend on which
        # one was processed first.
        "gsi1sk": f"{receipt.received_at_ms:013d}#{receipt.request_id}#{receipt.message_id}",
        "sha256": archive.sha256,
        "size": archive.size,
        "received_at_ms": receipt.received_at_ms,
        "request_id": receipt.request_id,
        "sqs_message_id": receipt.message_id,
        "expires_at": archive.expires_at,
    }
    if archive.body_pointer is not None:
        item["body_s3"] = archive.body_pointer
    else:
        item["body"] = archive.body or ""
    return item


def queued_webhook_of_archive(item: Mapping[str, Any]) -> QueuedWebhook:
    """The queue message that brings an archived payload back to the processor."""
    # Imported here: the sender reads and writes the table through this module and never needs
    # the queue's envelope, whose dataclasses would lengthen its cold start.
    from wacloud.webhook.envelope import LOCATION_INLINE, LOCATION_S3, QueuedWebhook  # noqa: PLC0415

    in_bucket = "body_s3" in item
    return QueuedWebhook(
        body=str(item["body_s3"] if in_bucket else item.get("body", "")),
        location=LOCATION_S3 if in_bucket else LOCATION_INLINE,
        received_at_ms=int(item["received_at_ms"]),
        request_id=str(item.get("request_id") or ""),
    )


def message_item(
    entry: Entry, value: MessagesValue, message: InboundMessage, contact_id: str | None = None
) -> dict[str, Any]:
    """An inbound message, in its sender's partition: what the conversation and the profile read.

    The key holds the sender, the time and the wamid, so the item does not repeat them
    (:func:`inbound_view` puts them back). With the message as sent (``raw``) it keeps what the
    rest of the POST said about it (the envelope, the sender's name), so that the payload itself
    need not be archived for nothing of the update to be lost.
    """
    wa_id = contact_id or sender_id(message) or "unknown"
    item: dict[str, Any] = {
        "pk": contact_pk(wa_id),
        "sk": inbound_sk(message.timestamp, message.id),
        "type": message.type,
        "raw": compact_json(message.raw),
        **_envelope(entry, value),
        **_contact_fields(value.contact_for(message)),
    }
    text = inbound_text(message)
    if text and len(item["raw"]) > TEXT_KEPT_PAST_RAW_CHARS:
        # Rendered from ``raw`` when read (a text's body would be stored twice), unless ``raw``
        # may be spilled to the bucket, where a listing would not fetch it.
        item["text"] = text
    if message.context is not None and message.context.id:
        item["reply_to"] = message.context.id
    return item


def inbound_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """An inbound message item with what its key holds spelled out, and its ``text``, as readers
    expect it."""
    timestamp, wamid = inbound_of(str(item["sk"]))
    view = {
        **item,
        "wamid": wamid,
        "direction": "inbound",
        "wa_id": wa_id_of(str(item["pk"])),
        "timestamp": timestamp,
    }
    raw = item.get("raw")
    if "text" not in item and isinstance(raw, str):
        # Here, not at the top: only listings of inbound messages need the webhook models, and the
        # sender, which lists none, would pay for them on its cold start.
        from wacloud.meta.inbound import InboundMessage  # noqa: PLC0415

        try:
            text = inbound_text(InboundMessage.model_validate_json(raw))
        except ValidationError:
            text = None  # stored untyped elsewhere; a listing shows no text for it
        if text:
            view["text"] = text
    return view


# Attributes of an inbound message stored before messages moved to their sender's partition that
# the key now holds, or the index entry it no longer has.
_MOVED_OUT_OF_INBOUND = {"pk", "sk", "gsi1pk", "gsi1sk", "wamid", "wa_id", "direction", "timestamp"}


def moved_inbound_item(old: Mapping[str, Any]) -> dict[str, Any]:
    """An inbound message stored the old way (``MSG#<wamid>`` / ``MESSAGE``), as it is stored now:
    in its sender's partition, its key holding what it repeated (docs/data-model.md, "Moving an
    existing table to this layout")."""
    item = {
        "pk": contact_pk(str(old["wa_id"])),
        "sk": inbound_sk(int(old["timestamp"]), str(old["wamid"])),
        **{name: value for name, value in old.items() if name not in _MOVED_OUT_OF_INBOUND},
    }
    raw = item.get("raw")
    if isinstance(raw, str) and len(raw) <= TEXT_KEPT_PAST_RAW_CHARS:
        item.pop("text", None)  # rendered from raw when read
    return item


def _envelope(entry: Entry | None, value: MessagesValue) -> dict[str, Any]:
    """Where an update came from: the business number it was sent to, the account's entry."""
    fields: dict[str, Any] = {}
    metadata = value.metadata
    if metadata is not None and metadata.phone_number_id:
        fields["phone_number_id"] = metadata.phone_number_id
    if metadata is not None and metadata.display_phone_number:
        fields["display_phone_number"] = metadata.display_phone_number
    if entry is not None and entry.id:
        fields["entry_id"] = entry.id
    return fields


def _contact_fields(contact: Contact | None) -> dict[str, Any]:
    """The sender's name as it came with the message; the whole ``contacts`` entry only when it says
    more than the name and the number (a user id, a username, fields not modelled yet)."""
    if contact is None:
        return {}
    name = contact.profile.name if contact.profile is not None else None
    fields: dict[str, Any] = {"name": name} if name else {}
    sent = contact.model_dump(mode="json", by_alias=True, exclude_unset=True)
    usual: dict[str, Any] = {"wa_id": contact.wa_id} if contact.wa_id is not None else {}
    if name:
        usual["profile"] = {"name": name}
    if sent != usual:
        fields["contact"] = compact_json(sent)
    return fields


def status_item(
    status: Status, entry: Entry | None = None, value: MessagesValue | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": message_pk(status.id),
        "sk": status_sk(status.timestamp, status.status),
        "wamid": status.id,
        "status": status.status,
        "timestamp": status.timestamp,
        "raw": compact_json(status.raw),
    }
    if value is not None:
        item.update(_envelope(entry, value))
    if status.recipient_id:
        item["recipient_id"] = status.recipient_id
    if status.errors:
        item["error_codes"] = [error.code for error in status.errors]
    if status.pricing is not None and status.pricing.category:
        item["pricing_category"] = status.pricing.category
    return item


def event_item(entry: Entry, field_name: str, value: Any) -> dict[str, Any]:
    """A change of a field the processor does not model (or value-level errors), kept verbatim.

    Keyed by the entry's time (when Meta sends one) and a hash of the value, so the events of a
    field list in time order and a redelivered event lands on the same item.
    """
    raw = compact_json(value)
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    item = {
        "pk": event_pk(field_name),
        "sk": f"{time_key(_entry_time(entry), entry.id or '')}#{digest}",
        "field": field_name,
        "raw": raw,
    }
    if entry.id:
        item["entry_id"] = entry.id
    return item


def untyped_item(sha256: str, part: UntypedPart) -> dict[str, Any]:
    """A part of a payload the models could not type, kept as sent with why, under its payload.

    Keyed by its place in the payload, so a redelivery writes the same item.
    """
    return {
        "pk": raw_pk(sha256),
        "sk": untyped_sk(part.path),
        "sha256": sha256,
        "path": part.path,
        "kind": part.kind,
        "raw": compact_json(part.raw),
        "error": part.error,
    }


def failure_item(failure: FailedAttempt) -> dict[str, Any]:
    """The latest failed attempt at a payload, for ``wactl dlq list`` (one per payload)."""
    return {
        "pk": raw_pk(failure.sha256),
        "sk": FAILURE_SK,
        "sha256": failure.sha256,
        "reason": failure.reason,
        "error": failure.error,
        "failed_at": failure.failed_at,
        "sqs_message_id": failure.sqs_message_id,
        "receive_count": failure.receive_count,
        "expires_at": failure.failed_at + FAILURE_TTL_SECONDS,
    }


def outbound_fields(record: OutboundRecord) -> dict[str, Any]:
    """The sender's attributes of an accepted message; never the status facet's."""
    fields: dict[str, Any] = {
        "wamid": record.wamid,
        "direction": "outbound",
        "wa_id": record.wa_id,
        "type": record.kind,
        "timestamp": record.timestamp,
        "accepted_status": record.accepted_status,
        "phone_number_id": record.phone_number_id,
        "request": compact_json(dict(record.request)),
        "gsi1pk": contact_pk(record.wa_id),
        "gsi1sk": time_key(record.timestamp, record.wamid),
    }
    if record.idempotency_key is not None:
        fields["idempotency_key"] = record.idempotency_key
    # No ``text``: the request holds it, and every status update is billed by the item's size
    # (:func:`outbound_view` renders it when read).
    return fields


def outbound_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """An outbound message item with the listing's ``text`` rendered from its request."""
    view = dict(item)
    request = item.get("request")
    if "text" not in item and isinstance(request, str):
        try:
            text = outbound_text(json.loads(request))
        except (ValueError, KeyError, TypeError, AttributeError):
            text = None
        if text:
            view["text"] = text
    return view


def failed_send_item(failed: FailedSend) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": failed_send_pk(failed.send_id),
        "sk": FAILED_SEND_SK,
        "send_id": failed.send_id,
        "direction": "outbound",
        "status": "failed",
        "type": failed.kind,
        "phone_number_id": failed.phone_number_id,
        "request": compact_json(dict(failed.request)),
        "status_errors": compact_json([dict(error) for error in failed.errors]),
        "error_code": failed.error_code,
        "retryable": failed.retryable,
        "timestamp": failed.timestamp,
        "gsi2pk": failed_day_pk(day_of(failed.timestamp)),
        "gsi2sk": time_key(failed.timestamp, failed.send_id),
    }
    if failed.wa_id is not None:
        item["wa_id"] = failed.wa_id
    if failed.idempotency_key is not None:
        item["idempotency_key"] = failed.idempotency_key
    return item


def entry_time(entry: Entry) -> int:
    """The entry's ``time`` (epoch seconds), 0 when Meta sent none."""
    return _entry_time(entry)


def _entry_time(entry: Entry) -> int:
    value: Any = (entry.model_extra or {}).get("time")
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
