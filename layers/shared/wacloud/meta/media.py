"""Meta's media: which messages carry one, and the types and sizes it accepts (its limits, checked
before an upload rather than learned from a refusal). A contact's media and what the Graph API says
of a media id are in :mod:`wacloud.meta.inbound_media`."""

from __future__ import annotations

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
