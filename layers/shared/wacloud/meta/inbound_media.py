"""A contact's media: what a message carries, what the Graph API says of its id, and whether the
bytes downloaded are the ones Meta described. Apart from Meta's upload rules (:mod:`wacloud.meta.media`),
which the sender imports: it needs none of this."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from wacloud.meta.media import MEDIA_TYPES


def hex_sha256(value: str) -> str | None:
    """Meta's ``sha256`` (base64 in webhooks, hex in a media id's description) as hex, if it is one."""
    text = value.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text).hex()
        except ValueError:
            pass
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == hashlib.sha256().digest_size else None


def sha256_matches(expected: str, data: bytes) -> bool:
    """Whether ``data`` has Meta's ``sha256``: base64 in webhooks, hex in a media id's description."""
    digest = hashlib.sha256(data).digest()
    text = expected.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text) == digest
        except ValueError:
            pass
    try:
        return base64.b64decode(text, validate=True) == digest
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True)
class InboundMedia:
    """The media a contact's message carries."""

    kind: str
    media_id: str
    mime_type: str | None
    sha256: str | None
    filename: str | None


def inbound_media(message: Mapping[str, Any]) -> InboundMedia | None:
    """The media of a message as Meta sent it (image, voice note, video, document, sticker), if any.

    Interactive and button replies carry no media in the Cloud API's webhooks: only these types do.
    """
    kind = message.get("type")
    body = message.get(kind) if isinstance(kind, str) and kind in MEDIA_TYPES else None
    if not isinstance(body, Mapping) or not isinstance(body.get("id"), str) or not body["id"]:
        return None
    return InboundMedia(
        kind=str(kind),
        media_id=body["id"],
        mime_type=_text(body.get("mime_type")),
        sha256=_text(body.get("sha256")),
        filename=_text(body.get("filename")),
    )


class MediaDescription(BaseModel):
    """``GET /<version>/<media-id>``: where to download the media (for about five minutes) and what
    it is."""

    model_config = ConfigDict(extra="allow")

    url: str
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | None = None
    id: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
