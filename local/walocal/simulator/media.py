"""Media as the Cloud API keeps it: uploads within Meta's limits, media ids, and download URLs that
expire and need the bearer token, for the media contacts send and the media the business uploads.

A contact's media is generated here (bytes of the right kind, a fresh media id, Meta's ``sha256``
in base64 as webhooks carry it). A fault may be attached to it to exercise the downloaders:
``expired_url`` (the first URL handed out has expired already), ``wrong_sha256`` (the bytes served
are not those the webhook's hash names), ``gone`` (Meta no longer has it) and ``oversize`` (its
description gives a size past Meta's largest media) and ``server_error`` (its first lookup is
answered HTTP 500, a transient error).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import urlencode

from . import errors

# Meta's media limits per MIME type (the part before any ``;``): what it accepts for upload.
MB = 1024 * 1024
_IMAGE = {"image/jpeg": 5 * MB, "image/png": 5 * MB}
_VIDEO = {"video/mp4": 16 * MB, "video/3gpp": 16 * MB}
_AUDIO = dict.fromkeys(("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"), 16 * MB)
_STICKER = {"image/webp": 500 * 1024}
_DOCUMENT = dict.fromkeys(
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
)
MEDIA_LIMITS: dict[str, int] = {**_IMAGE, **_VIDEO, **_AUDIO, **_STICKER, **_DOCUMENT}
MAX_MEDIA_BYTES = max(MEDIA_LIMITS.values())
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
FAULTS = ("expired_url", "wrong_sha256", "gone", "oversize", "server_error")
DOWNLOAD_PATH = "/whatsapp_business/attachments/"

# A JPEG's start and end markers; the comment segment between makes each generated image unique.
_JPEG = b"\xff\xd8\xff\xd9"


def base_type(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


def generated(kind: str, size: int = 32 * 1024) -> tuple[bytes, str, str | None]:
    """Bytes a contact's phone would send for ``kind``: (data, mime_type, filename)."""
    noise = secrets.token_bytes(size)
    if kind in ("image", "video"):
        # A JPEG comment segment holds at most 65,533 bytes.
        comment = noise[:65_533]
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        return _JPEG[:2] + segment + _JPEG[2:], "image/jpeg", None
    if kind == "audio":
        return b"OggS\x00\x02" + noise, "audio/ogg; codecs=opus", None
    if kind == "sticker":
        body = b"WEBPVP8 " + noise[: 8 * 1024]
        return b"RIFF" + len(body).to_bytes(4, "little") + body, "image/webp", None
    pdf = b"%PDF-1.4\n% " + base64.b64encode(noise[:4096]) + b"\n%%EOF\n"
    return pdf, "application/pdf", "invoice.pdf"


@dataclass
class StoredMedia:
    id: str
    data: bytes = field(repr=False)
    mime_type: str
    origin: str  # "upload" (the business) or "inbound" (a contact)
    created_at: float
    filename: str | None = None
    fault: str | None = None
    deleted: bool = False
    lookups: int = 0
    urls_issued: int = 0
    downloads: int = 0

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha256_base64(self) -> str:
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")

    def as_json(self) -> dict[str, Any]:
        listed: dict[str, Any] = {
            "id": self.id,
            "mime_type": self.mime_type,
            "sha256": self.sha256_hex,
            "file_size": len(self.data),
            "origin": self.origin,
            "time": self.created_at,
            "deleted": self.deleted,
            "lookups": self.lookups,
            "urls_issued": self.urls_issued,
            "downloads": self.downloads,
        }
        if self.filename:
            listed["filename"] = self.filename
        if self.fault:
            listed["fault"] = self.fault
        return listed


class MediaStore:
    """Thread-safe; keeps at most ``max_records`` media, the oldest forgotten first."""

    def __init__(self, clock: Callable[[], float], url_ttl: float, max_records: int) -> None:
        self._clock = clock
        self._ttl = url_ttl
        self._max = max_records
        self._lock = threading.Lock()
        self._media: OrderedDict[str, StoredMedia] = OrderedDict()
        # Signs download URLs, as Meta's hash parameter does: a URL cannot be made up.
        self._key = secrets.token_bytes(32)

    def add(
        self,
        data: bytes,
        mime_type: str,
        origin: str,
        *,
        filename: str | None = None,
        fault: str | None = None,
    ) -> StoredMedia:
        media = StoredMedia(
            id=str(secrets.randbelow(9 * 10**15) + 10**15),
            data=data,
            mime_type=mime_type,
            origin=origin,
            created_at=self._clock(),
            filename=filename,
            fault=fault,
        )
        with self._lock:
            self._media[media.id] = media
            while len(self._media) > self._max:
                self._media.popitem(last=False)
        return media

    def upload(self, fields: Mapping[str, str], file: tuple[bytes, str, str | None]) -> StoredMedia:
        """``POST /<phone-number-id>/media``: Meta's checks, then a new media id."""
        if fields.get("messaging_product") != "whatsapp":
            raise errors.invalid_parameter("messaging_product", "must be whatsapp")
        data, part_type, filename = file
        mime_type = fields.get("type") or part_type
        limit = MEDIA_LIMITS.get(base_type(mime_type))
        if limit is None:
            raise media_error(f"Param file must be a file with one of the supported types, not {mime_type}")
        if not data:
            raise media_error("The file is empty")
        if len(data) > limit:
            raise media_error(f"The file is {len(data)} bytes; {mime_type} may be at most {limit} bytes")
        return self.add(data, mime_type, "upload", filename=filename)

    def find(self, media_id: str) -> StoredMedia:
        with self._lock:
            media = self._media.get(media_id)
        if media is None or media.deleted or media.fault == "gone":
            raise errors.unknown_object(media_id, "get")
        return media

    def delete(self, media_id: str) -> None:
        media = self.find(media_id)
        with self._lock:
            media.deleted = True

    def describe(self, media_id: str, base_url: str) -> dict[str, Any]:
        """``GET /<media-id>``: the media's facts and a fresh download URL."""
        media = self.find(media_id)
        with self._lock:
            media.lookups += 1
            if media.fault == "server_error" and media.lookups == 1:
                raise errors.GraphError(
                    2, "Service temporarily unavailable", http_status=500, error_type="OAuthException"
                )
            media.urls_issued += 1
            first = media.urls_issued == 1
        expires = int(self._clock() + self._ttl)
        if first and media.fault == "expired_url":
            expires = int(self._clock()) - 1
        query = urlencode({"mid": media.id, "ext": expires, "hash": self._signature(media.id, expires)})
        return {
            "messaging_product": "whatsapp",
            "url": f"{base_url}{DOWNLOAD_PATH}?{query}",
            "mime_type": media.mime_type,
            "sha256": media.sha256_hex,
            "file_size": MAX_MEDIA_BYTES + 1 if media.fault == "oversize" else len(media.data),
            "id": media.id,
        }

    def download(self, query: Mapping[str, list[str]]) -> StoredMedia:
        """The download URL (the caller checked the token): the media, unless the URL is not one of
        ours or has expired."""
        media_id = (query.get("mid") or [""])[0]
        expires = (query.get("ext") or [""])[0]
        signature = (query.get("hash") or [""])[0]
        signed = expires.isdigit() and hmac.compare_digest(signature, self._signature(media_id, int(expires)))
        if not signed:
            raise url_error("The URL is not valid")
        if int(expires) < self._clock():
            raise url_error("The URL has expired")
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.deleted:
                raise url_error("The media is gone")
            media.downloads += 1
        return media

    def served_bytes(self, media: StoredMedia) -> bytes:
        if media.fault == "wrong_sha256":
            return media.data[:-1] + bytes([media.data[-1] ^ 0xFF])
        return media.data

    def listing(self, origin: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [m.as_json() for m in self._media.values() if origin is None or m.origin == origin]

    def reset(self) -> None:
        with self._lock:
            self._media.clear()

    def _signature(self, media_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def media_error(details: str) -> errors.GraphError:
    return errors.GraphError(131053, "Media upload error", details=details)


def url_error(details: str) -> errors.GraphError:
    # lookaside answers an unusable URL with 404; the Graph error body helps a person reading it.
    return errors.GraphError(100, "Invalid media URL", http_status=404, details=details)


def multipart(content_type: str, body: bytes) -> tuple[dict[str, str], tuple[bytes, str, str | None] | None]:
    """A ``multipart/form-data`` body's text fields, and its ``file`` part (data, type, filename)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise errors.invalid_parameter("file", "the request must be multipart/form-data")
    message: Message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    file: tuple[bytes, str, str | None] | None = None
    for part in message.iter_parts() if message.is_multipart() else []:  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file":
            file = (payload, part.get_content_type(), part.get_filename())
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8", "replace")
    return fields, file
