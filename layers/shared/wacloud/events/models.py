"""The events the pipeline publishes on its bus: one model per detail type, the contract consumers
code against (docs/events.md shows their JSON Schemas, generated from these models).

Every detail carries ``event_id``: derived from the stored change it reports, so any repetition of
the same event (a retried stream batch, a retried PutEvents) carries the same id, and consumers
deduplicate on it. Times are Meta's epoch seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "whatsapp.cloud"


class EventDetail(BaseModel):
    # Consumers should accept fields they do not know: events gain fields over time, never lose them.
    model_config = ConfigDict(extra="ignore")
    detail_type: ClassVar[str]

    event_id: str = Field(description="Stable across retries of the same change: deduplicate on it.")
    phone_number_id: str | None = Field(None, description="The business number the update concerns.")
    wa_id: str | None = Field(None, description="The contact: phone number or business-scoped user id.")
    timestamp: int = Field(description="When it happened, by Meta's clock (epoch seconds).")


class MessageReceived(EventDetail):
    detail_type: ClassVar[str] = "WhatsApp Message Received"

    wamid: str
    type: str = Field(description="Meta's message type; unknown types arrive with their raw object.")
    text: str | None = Field(None, description="A one-line rendering: body, caption, reply title, ...")
    name: str | None = Field(None, description="The contact's profile name as sent with the message.")
    reply_to: str | None = Field(None, description="The wamid this message replies to (context.id).")
    referral: dict[str, Any] | None = Field(
        None, description="The ad or post the contact came from (Click to WhatsApp), as Meta sent it."
    )
    display_phone_number: str | None = None
    message: dict[str, Any] = Field(
        description="The message object exactly as Meta sent it; empty when it is in `message_s3`."
    )
    message_s3: dict[str, Any] | None = Field(
        None,
        description="Where a message too large for the table (over 32 KB) is kept: "
        '`{"s3": {"bucket", "key"}, "size", "sha256"}` in the payload bucket.',
    )


class MediaStored(EventDetail):
    detail_type: ClassVar[str] = "WhatsApp Media Stored"

    wamid: str = Field(description="The received message the media came with (WhatsApp Message Received).")
    type: str = Field(description="The message's type: image, audio, video, document or sticker.")
    state: Literal["stored", "unavailable"] = Field(
        description="stored: the bytes are in the bucket, verified against Meta's sha256 and size; "
        "unavailable: Meta no longer had the media when it was asked for it."
    )
    media_id: str = Field(description="Meta's media id, as the message carried it.")
    s3: dict[str, str] | None = Field(
        None, description='Where the bytes are: `{"bucket", "key", "uri"}` (content-addressed by sha256).'
    )
    size: int | None = Field(None, description="Bytes stored.")
    mime_type: str | None = None
    sha256: str | None = Field(None, description="Hex SHA-256 of the bytes stored.")
    reason: str | None = Field(None, description="Why the media is unavailable.")


class StatusChanged(EventDetail):
    detail_type: ClassVar[str] = "WhatsApp Message Status Changed"

    wamid: str
    status: str = Field(description="sent, delivered, read or failed: always further than previous.")
    previous_status: str | None = Field(None, description="The stored status it replaced, if any.")
    recipient_id: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list, description="Meta's errors when failed.")
    pricing: dict[str, Any] | None = Field(
        None, description="Meta's pricing of the message as of this status: billable, category, ..."
    )


class ContactUpdated(EventDetail):
    detail_type: ClassVar[str] = "WhatsApp Contact Updated"

    change: Literal["opted_in", "opted_out", "marketing_stopped", "marketing_resumed", "number_changed"]
    reason: str | None = Field(
        None,
        description="keyword:STOP, keyword:START, error:131050, preference:stop, preference:resume, ...",
    )
    changed_to: str | None = Field(None, description="The new number, for number_changed.")


class AccountEvent(EventDetail):
    detail_type: ClassVar[str] = "WhatsApp Account Event"

    field: str = Field(description="The webhook field: message_template_status_update, ...")
    entry_id: str | None = Field(None, description="The WhatsApp Business Account id.")
    value: Any = Field(description="The change's value exactly as Meta sent it.")


class PayloadRejected(EventDetail):
    detail_type: ClassVar[str] = "WhatsApp Payload Rejected"

    sha256: str = Field(description="The payload's hash: `wactl raw show` and `wactl raw replay` take it.")
    reason: str
    path: str | None = Field(None, description="Where in the payload, when only a part was refused.")
    kind: str | None = None


DETAILS: tuple[type[EventDetail], ...] = (
    MessageReceived,
    MediaStored,
    StatusChanged,
    ContactUpdated,
    AccountEvent,
    PayloadRejected,
)
