"""What the processor does with one queued webhook: archive it, parse it, store every update.

Every update of the POST is handled (all entries, changes, messages and statuses), and anything
not understood yet is stored raw rather than dropped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from wacloud.errors import PayloadFetchError, WaCloudError
from wacloud.inbound.models import InboundMessage, MessagesValue, Status, WebhookPayload
from wacloud.queued_webhook import LOCATION_S3, PayloadPointer
from wacloud.settings import ProcessorSettings
from wacloud.store import (
    MESSAGE_SK,
    RAW_SK,
    ConversationStore,
    compact_json,
    contact_pk,
    day_of,
    message_pk,
    raw_pk,
    time_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Raw bodies larger than this are archived in S3 and the item points there (items max 400 KB).
MAX_INLINE_ARCHIVE_BYTES = 300_000
OPTED_OUT_MARKETING = 131050


class PayloadRejectedError(WaCloudError):
    """The body is not a webhook payload we can parse; it is archived raw and left to fail."""


@dataclass(frozen=True)
class QueuedWebhook:
    """One SQS record of the webhook queue."""

    message_id: str
    body: str
    location: str
    received_at_ms: int
    request_id: str


@dataclass(frozen=True)
class ProcessingSummary:
    messages: int = 0
    statuses: int = 0
    other_changes: int = 0
    duplicate: bool = False


class WebhookProcessor:
    def __init__(
        self,
        store: ConversationStore,
        s3_factory: Callable[[], S3Client],
        settings: ProcessorSettings,
    ) -> None:
        self._store = store
        self._s3_factory = s3_factory
        self._s3: S3Client | None = None
        self._settings = settings

    def process(self, webhook: QueuedWebhook) -> ProcessingSummary:
        body = self._read_body(webhook)
        digest = hashlib.sha256(body).hexdigest()
        first_delivery = self._archive(body, digest, webhook)
        try:
            payload = WebhookPayload.model_validate_json(body)
        except ValidationError as exc:
            # Deterministic: retries will fail too, so the record ends in the dead-letter queue,
            # from which it is replayed once the models understand it. The archive keeps it meanwhile.
            raise PayloadRejectedError(
                f"payload {digest[:12]} is not a webhook payload: {exc.error_count()} validation errors"
            ) from exc
        return self._store_updates(payload, duplicate=not first_delivery)

    # ------------------------------------------------------------------ raw body and archive
    def _read_body(self, webhook: QueuedWebhook) -> bytes:
        if webhook.location != LOCATION_S3:
            return webhook.body.encode("utf-8")
        pointer = PayloadPointer.from_json(webhook.body)
        try:
            obj = self._s3_client().get_object(Bucket=pointer.bucket, Key=pointer.key)
            body = obj["Body"].read()
        except Exception as exc:
            raise PayloadFetchError(f"cannot read payload {pointer.key} ({type(exc).__name__})") from exc
        if hashlib.sha256(body).hexdigest() != pointer.sha256:
            raise PayloadFetchError(f"payload {pointer.key} does not match its checksum")
        return body

    def _archive(self, body: bytes, digest: str, webhook: QueuedWebhook) -> bool:
        received_s = webhook.received_at_ms // 1000
        item: dict[str, Any] = {
            "pk": raw_pk(digest),
            "sk": RAW_SK,
            "gsi1pk": f"RAW#{day_of(received_s)}",
            "gsi1sk": time_key(webhook.received_at_ms, digest),
            "sha256": digest,
            "size": len(body),
            "received_at_ms": webhook.received_at_ms,
            "request_id": webhook.request_id,
            "sqs_message_id": webhook.message_id,
            "expires_at": received_s + self._settings.raw_payload_retention_days * 86_400,
        }
        if len(body) <= MAX_INLINE_ARCHIVE_BYTES and webhook.location != LOCATION_S3:
            item["body"] = webhook.body
        else:
            item["body_s3"] = self._archive_in_bucket(body, digest, webhook)
        return self._store.put_if_absent(item)

    def _archive_in_bucket(self, body: bytes, digest: str, webhook: QueuedWebhook) -> str:
        if webhook.location == LOCATION_S3:
            return webhook.body  # already in the bucket: the pointer is the archive
        key = f"archive/{day_of(webhook.received_at_ms // 1000).replace('-', '/')}/{digest}.json"
        self._s3_client().put_object(
            Bucket=self._settings.payload_bucket, Key=key, Body=body, ContentType="application/json"
        )
        return PayloadPointer(self._settings.payload_bucket, key, len(body), digest).to_json()

    def _s3_client(self) -> S3Client:
        if self._s3 is None:
            self._s3 = self._s3_factory()
        return self._s3

    # ------------------------------------------------------------------ updates
    def _store_updates(self, payload: WebhookPayload, duplicate: bool) -> ProcessingSummary:
        items: list[dict[str, Any]] = []
        after: list[Callable[[], object]] = []
        counts = {"messages": 0, "statuses": 0, "other": 0}
        for entry in payload.entry:
            for change in entry.changes:
                value = change.messages_value()
                if value is None:
                    items.append(_event_item(entry.id, change.field, change.value))
                    counts["other"] += 1
                    continue
                if value.errors:
                    errors = [error.model_dump(mode="json", by_alias=True) for error in value.errors]
                    items.append(_event_item(entry.id, "messages.errors", {"errors": errors}))
                for message in value.messages:
                    items.append(_message_item(value, message))
                    after.extend(self._message_effects(value, message))
                    counts["messages"] += 1
                for status in value.statuses:
                    items.append(_status_item(status))
                    after.extend(self._status_effects(status))
                    counts["statuses"] += 1
        self._store.put_items(items)
        for effect in after:
            effect()
        return ProcessingSummary(counts["messages"], counts["statuses"], counts["other"], duplicate)

    def _message_effects(self, value: MessagesValue, message: InboundMessage) -> list[Callable[[], object]]:
        wa_id = _sender_id(message)
        if wa_id is None:
            return []
        contact = value.contact_for(message)
        name = contact.profile.name if contact and contact.profile else None
        store, ts, wamid = self._store, message.timestamp, message.id
        effects: list[Callable[[], object]] = [lambda: store.record_inbound(wa_id, ts, wamid, name)]
        keyword = _consent_keyword(message)
        if keyword in self._settings.opt_out_keywords:
            effects.append(lambda: store.record_consent(wa_id, False, ts, wamid, f"keyword:{keyword}"))
        elif keyword in self._settings.opt_in_keywords:
            effects.append(lambda: store.record_consent(wa_id, True, ts, wamid, f"keyword:{keyword}"))
        system = message.system
        if system is not None and system.type == "user_changed_number" and system.new_wa_id:
            new_wa_id = system.new_wa_id
            effects.append(lambda: store.record_number_change(wa_id, new_wa_id, ts, wamid))
        return effects

    def _status_effects(self, status: Status) -> list[Callable[[], object]]:
        store = self._store
        errors = [error.model_dump(mode="json", exclude_none=True) for error in status.errors]
        effects: list[Callable[[], object]] = [
            lambda: store.apply_status(
                status.id, status.status, status.timestamp, status.recipient_id, errors
            )
        ]
        recipient = status.recipient_id
        if recipient and any(error.code == OPTED_OUT_MARKETING for error in status.errors):
            effects.append(lambda: store.record_marketing_stopped(recipient, status.timestamp, status.id))
        return effects


def queued_webhook_from_record(record: Any) -> QueuedWebhook:
    """Read the fields of a Lambda SQS event record (a dict) the processor needs."""
    attributes = record.get("messageAttributes") or {}

    def attribute(name: str, default: str) -> str:
        return str((attributes.get(name) or {}).get("stringValue") or default)

    sent = (record.get("attributes") or {}).get("SentTimestamp") or int(time.time() * 1000)
    return QueuedWebhook(
        message_id=record["messageId"],
        body=record["body"],
        location=attribute("payload_location", "inline"),
        received_at_ms=int(attribute("received_at_ms", str(sent))),
        request_id=attribute("request_id", ""),
    )


def _sender_id(message: InboundMessage) -> str | None:
    return message.from_ or message.from_user_id


def _consent_keyword(message: InboundMessage) -> str | None:
    text = None
    if message.text is not None:
        text = message.text.body
    elif message.button is not None:
        text = message.button.payload or message.button.text
    return text.strip().upper() if text else None


def summary_text(message: InboundMessage) -> str | None:
    """A short human-readable rendering of the message, for listing a conversation."""
    if message.text is not None:
        return message.text.body
    if message.reaction is not None:
        return message.reaction.emoji
    if message.button is not None:
        return message.button.text
    if message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        return reply.title if reply is not None else message.interactive.type
    if message.location is not None:
        return message.location.name or f"{message.location.latitude},{message.location.longitude}"
    if message.system is not None:
        return message.system.body
    for media in (message.image, message.video, message.document):
        if media is not None and getattr(media, "caption", None):
            return str(media.caption)
    return None


def _message_item(value: MessagesValue, message: InboundMessage) -> dict[str, Any]:
    wa_id = _sender_id(message) or "unknown"
    item: dict[str, Any] = {
        "pk": message_pk(message.id),
        "sk": MESSAGE_SK,
        "gsi1pk": contact_pk(wa_id),
        "gsi1sk": time_key(message.timestamp, message.id),
        "wamid": message.id,
        "direction": "inbound",
        "wa_id": wa_id,
        "type": message.type,
        "timestamp": message.timestamp,
        "phone_number_id": value.metadata.phone_number_id,
        "raw": compact_json(message.raw),
    }
    text = summary_text(message)
    if text:
        item["text"] = text
    if message.context is not None and message.context.id:
        item["reply_to"] = message.context.id
    return item


def _status_item(status: Status) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": message_pk(status.id),
        "sk": f"STATUS#{time_key(status.timestamp, status.status)}",
        "wamid": status.id,
        "status": status.status,
        "timestamp": status.timestamp,
        "raw": compact_json(status.raw),
    }
    if status.recipient_id:
        item["recipient_id"] = status.recipient_id
    if status.errors:
        item["error_codes"] = [error.code for error in status.errors]
    if status.pricing is not None and status.pricing.category:
        item["pricing_category"] = status.pricing.category
    return item


def _event_item(entry_id: str, field: str, value: Any) -> dict[str, Any]:
    """A change of a field the processor does not model (or value-level errors), kept verbatim."""
    raw = compact_json(value)
    return {
        "pk": f"EVENT#{field}",
        "sk": f"{entry_id}#{hashlib.sha256(raw.encode('utf-8')).hexdigest()}",
        "field": field,
        "entry_id": entry_id,
        "raw": raw,
    }
