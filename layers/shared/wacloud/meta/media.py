"""Meta's media: which messages carry one, what the Graph API says of a media id, and the types
and sizes it accepts (its limits, checked before an upload rather than learned from a refusal)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

# Message types whose object is a media: ``{"id", "mime_type", "sha256", ...}``.
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")

MB = 1024 * 1024
_LIMITS: dict[str, dict[str, int]] = {
    "image": dict.fromkeys(("image/jpeg", "image/png"), 5 * MB),
    "video": dict.fromkeys(("video/mp4", "video/3gpp"), 16 * MB),
    "audio": dict.fromkeys(("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"), 16 * MB),
    # Animated stickers may have 500 KB, static ones 100 KB; which one a file is, Meta tells.
    "sticker": {"image/webp": 500 * 1024},
    "document": dict.fromkeys(
        (
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        100 * MB,
    ),
}
# The largest media Meta keeps (a document): no download may be larger.
MAX_MEDIA_BYTES = 100 * MB


def base_type(mime_type: str) -> str:
    """``audio/ogg; codecs=opus`` -> ``audio/ogg``."""
    return mime_type.split(";", 1)[0].strip().lower()


def size_limit(kind: str, mime_type: str) -> int | None:
    """The most bytes Meta takes for a ``kind`` media of ``mime_type``; None when it refuses the type."""
    return _LIMITS.get(kind, {}).get(base_type(mime_type))


def accepted_types(kind: str) -> list[str]:
    return sorted(_LIMITS.get(kind, {}))


def upload_problem(kind: str, mime_type: str, size: int) -> str | None:
    """Why Meta would refuse to upload this file as a ``kind`` media, or None."""
    limit = size_limit(kind, mime_type)
    if limit is None:
        return f"{kind} media must be one of {', '.join(accepted_types(kind))}, not {mime_type or 'unknown'}"
    if size == 0:
        return "the file is empty"
    if size > limit:
        return f"{kind} media may be at most {limit} bytes ({limit // 1024} KB); this one is {size} bytes"
    return None


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

    # Built on first use: the sender imports this module for its upload rules, never this model.
    model_config = ConfigDict(extra="allow", defer_build=True)

    url: str
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | None = None
    id: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
