"""What the media job is given: the ``WhatsApp Message Received`` event of a message with media."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from wacloud.core.errors import WaCloudError
from wacloud.meta.inbound_media import InboundMedia, inbound_media


class NotAMediaJobError(WaCloudError):
    """The event is not a received message the job can read: retrying it cannot help."""


MESSAGE_RECEIVED = "WhatsApp Message Received"
MEDIA_STORED = "WhatsApp Media Stored"


class RecordedMedia(BaseModel):
    """A ``WhatsApp Media Stored`` event: what the message item records (or recorded until a
    redelivered webhook's put of the message dropped it)."""

    model_config = ConfigDict(extra="ignore")

    wa_id: str
    wamid: str
    timestamp: int
    type: str
    state: Literal["stored", "unavailable"]
    media_id: str
    s3: dict[str, str] | None = None
    size: int | None = None
    mime_type: str | None = None
    sha256: str | None = None
    reason: str | None = None


def job_of(event: Mapping[str, Any]) -> MediaJob | RecordedMedia:
    """The work an event of the media function's rule asks for."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if not isinstance(detail, Mapping):
        raise NotAMediaJobError("the event has no detail")
    model: type[MediaJob | RecordedMedia] = (
        RecordedMedia if event.get("detail-type") == MEDIA_STORED else MediaJob
    )
    try:
        return model.model_validate(detail)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
        raise NotAMediaJobError(f"the event's detail lacks {', '.join(fields)}") from exc


class MediaJob(BaseModel):
    """The message, as the event carries it: who sent it and when (its item's key), and what."""

    model_config = ConfigDict(extra="ignore")

    wa_id: str
    wamid: str
    timestamp: int
    type: str
    message: dict[str, Any]

    @property
    def media(self) -> InboundMedia | None:
        return inbound_media(self.message)
