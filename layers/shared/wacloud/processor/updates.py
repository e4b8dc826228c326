"""What the processor does with one queued webhook: archive it, parse it, store every update.

Every update of the POST is handled (all entries, changes, messages and statuses), and anything
not understood yet is stored raw rather than dropped.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from wacloud.core.errors import PayloadFetchError, WaCloudError
from wacloud.core.settings import ProcessorSettings
from wacloud.meta.error_codes import OPTED_OUT_OF_MARKETING
from wacloud.meta.inbound import Entry, InboundMessage, MessagesValue, Status, WebhookPayload
from wacloud.table.facets import (
    Facet,
    consent_facet,
    inbound_facet,
    marketing_stopped_facet,
    name_facet,
    number_change_facet,
    status_facet,
)
from wacloud.table.items import RawArchive, event_item, message_item, sender_id, status_item
from wacloud.table.keys import day_of
from wacloud.table.store import ConversationStore
from wacloud.webhook.envelope import PayloadPointer, QueuedWebhook

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Raw bodies larger than this are archived in S3 and the item points there. Above about 8 KB an S3
# PUT ($5 per million) costs less than the extra DynamoDB write units (one per KB, $0.625 per million)
# and storage, and the table's items stay small.
MAX_INLINE_ARCHIVE_BYTES = 8_192


class PayloadRejectedError(WaCloudError):
    """The body is not a webhook payload we can parse; it is archived raw and left to fail."""


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
        if not webhook.in_bucket:
            return webhook.body.encode("utf-8")
        pointer = webhook.pointer()
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
        expires_at = received_s + self._settings.raw_payload_retention_days * 86_400
        if len(body) <= MAX_INLINE_ARCHIVE_BYTES and not webhook.in_bucket:
            archive = RawArchive(digest, len(body), webhook, body=webhook.body, expires_at=expires_at)
        else:
            pointer = self._archive_in_bucket(body, digest, webhook)
            archive = RawArchive(digest, len(body), webhook, body_pointer=pointer, expires_at=expires_at)
        return self._store.archive(archive)

    def _archive_in_bucket(self, body: bytes, digest: str, webhook: QueuedWebhook) -> str:
        if webhook.in_bucket:
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
        changes = _Changes(self._settings)
        for entry in payload.entry:
            for change in entry.changes:
                value = change.messages_value()
                if value is None:
                    changes.add_event(entry, change.field, change.value)
                    continue
                if value.errors:
                    errors = [
                        error.model_dump(mode="json", by_alias=True, exclude_unset=True)
                        for error in value.errors
                    ]
                    changes.add_event(entry, "messages.errors", {"errors": errors})
                for message in value.messages:
                    changes.add_message(value, message)
                for status in value.statuses:
                    changes.add_status(status)
        changes.write(self._store)
        return ProcessingSummary(changes.messages, changes.statuses, changes.others, duplicate)


@dataclass
class _Changes:
    """What one payload changes: items to put, and facets folded per evolving item.

    Folding keeps, per item and facet, only the newest update of the payload, so a POST with many
    updates for one contact or one message costs one conditional write per item, not per update.
    """

    settings: ProcessorSettings
    items: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, list[Facet]] = field(default_factory=lambda: defaultdict(list))
    message_facets: dict[str, list[Facet]] = field(default_factory=lambda: defaultdict(list))
    recipients: dict[str, str] = field(default_factory=dict)
    number_links: set[tuple[str, str]] = field(default_factory=set)
    messages: int = 0
    statuses: int = 0
    others: int = 0

    def add_event(self, entry: Entry, field_name: str, value: Any) -> None:
        self.items.append(event_item(entry, field_name, value))
        self.others += 1

    def add_message(self, value: MessagesValue, message: InboundMessage) -> None:
        self.messages += 1
        self.items.append(message_item(value, message))
        wa_id = sender_id(message)
        if wa_id is None:
            return
        ts, wamid = message.timestamp, message.id
        facets: list[Facet] = []
        if message.type != "system":
            # System notices (number or identity changed) come from WhatsApp, not from the user, so
            # they do not open the 24-hour customer service window.
            facets.append(inbound_facet(ts, wamid))
        contact = value.contact_for(message)
        if contact is not None and contact.profile is not None and contact.profile.name:
            facets.append(name_facet(ts, wamid, contact.profile.name))
        keyword = _consent_keyword(message)
        if keyword in self.settings.opt_out_keywords:
            facets.append(consent_facet(ts, wamid, False, f"keyword:{keyword}"))
        elif keyword in self.settings.opt_in_keywords:
            facets.append(consent_facet(ts, wamid, True, f"keyword:{keyword}"))
        system = message.system
        if system is not None and system.type == "user_changed_number" and system.new_wa_id:
            facets.append(number_change_facet(ts, wamid, system.new_wa_id))
            self.number_links.add((system.new_wa_id, wa_id))
        if facets:
            self.profiles[wa_id].extend(facets)

    def add_status(self, status: Status) -> None:
        self.statuses += 1
        self.items.append(status_item(status))
        errors = [error.model_dump(mode="json", exclude_none=True) for error in status.errors]
        facet = status_facet(status.status, status.timestamp, status.id, errors)
        if facet is not None:
            self.message_facets[status.id].append(facet)
            if status.recipient_id:
                self.recipients[status.id] = status.recipient_id
        recipient = status.recipient_id
        if recipient and any(error.code == OPTED_OUT_OF_MARKETING for error in status.errors):
            self.profiles[recipient].append(marketing_stopped_facet(status.timestamp, status.id))

    def write(self, store: ConversationStore) -> None:
        store.put_items(self.items)
        for wamid, facets in self.message_facets.items():
            store.advance_message(wamid, facets, self.recipients.get(wamid))
        for wa_id, facets in self.profiles.items():
            store.advance_profile(wa_id, facets)
        for new_wa_id, old_wa_id in sorted(self.number_links):
            store.link_previous_number(new_wa_id, old_wa_id)


def _consent_keyword(message: InboundMessage) -> str | None:
    text = None
    if message.text is not None:
        text = message.text.body
    elif message.button is not None:
        text = message.button.payload or message.button.text
    return text.strip().upper() if text else None
