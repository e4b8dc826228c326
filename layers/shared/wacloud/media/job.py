"""What the media job is given: the ``WhatsApp Message Received`` event of a message with media."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from wacloud.core.errors import WaCloudError
from wacloud.meta.media import InboundMedia, inbound_media


class NotAMediaJobError(WaCloudError):
    """The event is not a received message the job can read: retrying it cannot help."""


class MediaJob(BaseModel):
    """The message, as the event carries it: who sent it and when (its item's key), and what."""

    model_config = ConfigDict(extra="ignore")

    wa_id: str
    wamid: str
    timestamp: int
    type: str
    message: dict[str, Any]

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> MediaJob:
        detail = event.get("detail") if isinstance(event, Mapping) else None
        if not isinstance(detail, Mapping):
            raise NotAMediaJobError("the event has no detail")
        try:
            return cls.model_validate(detail)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
            raise NotAMediaJobError(f"the event's detail lacks {', '.join(fields)}") from exc

    @property
    def media(self) -> InboundMedia | None:
        return inbound_media(self.message)
