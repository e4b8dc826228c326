"""Media in the table: what became of a contact's media, on the message item itself, and the media
ids the sender got from Meta for content it uploaded.

A received media is recorded on its message item as one map attribute, ``media``: the processor's
first write stays one put of a small item (one write unit), and the media job adds one update
(docs/data-model.md). The bytes live in the payload bucket under ``media/<sha256>``: the same
content received twice is one object.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed
from wacloud.table.keys import contact_pk, inbound_sk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

MEDIA_PREFIX = "media/"
MEDIA_UPLOAD_SK = "UPLOAD"

MediaState = Literal["stored", "unavailable"]


def media_key(sha256_hex: str) -> str:
    """The bucket key of a media: its content's SHA-256, so one content is one object."""
    return f"{MEDIA_PREFIX}{sha256_hex}"


def media_upload_pk(sha256_hex: str) -> str:
    """The sender's upload of a content: the media id Meta gave it, while Meta keeps it."""
    return f"MEDIAUPLOAD#{sha256_hex}"


@dataclass(frozen=True)
class MediaRecord:
    """What became of a message's media: stored in the bucket, or gone from Meta before we got it."""

    state: MediaState
    kind: str
    media_id: str
    recorded_at: int
    bucket: str | None = None
    key: str | None = None
    size: int | None = None
    mime_type: str | None = None
    sha256: str | None = None
    """Hex SHA-256 of the stored bytes, verified against Meta's."""
    reason: str | None = None

    @property
    def s3_uri(self) -> str | None:
        return f"s3://{self.bucket}/{self.key}" if self.bucket and self.key else None

    def as_attribute(self) -> dict[str, Any]:
        fields = {
            "state": self.state,
            "kind": self.kind,
            "media_id": self.media_id,
            "at": self.recorded_at,
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "mime_type": self.mime_type,
            "sha256": self.sha256,
            "reason": self.reason,
        }
        return {name: value for name, value in fields.items() if value is not None}


def media_view(attribute: Any) -> dict[str, Any] | None:
    """A message item's ``media`` as readers (events, wactl) show it: numbers as ints, the S3 URI."""
    if not isinstance(attribute, Mapping) or "state" not in attribute:
        return None
    view = {
        name: int(value) if name in ("size", "at") and value is not None else value
        for name, value in attribute.items()
    }
    if view.get("bucket") and view.get("key"):
        view["s3_uri"] = f"s3://{view['bucket']}/{view['key']}"
    return view


class MediaLedger:
    """The media job's and the sender's items: a message's media record, uploaded media ids."""

    def __init__(self, table: Table, clock: Callable[[], float] = time.time) -> None:
        self._table = TableClient(table)
        self._clock = clock

    def media_of(self, wa_id: str, timestamp: int, wamid: str) -> dict[str, Any] | None:
        """The message's media record, or None when nothing is recorded yet."""
        item = self._table.get({"pk": contact_pk(wa_id), "sk": inbound_sk(timestamp, wamid)})
        return media_view(item.get("media")) if item is not None else None

    def record(self, wa_id: str, timestamp: int, wamid: str, record: MediaRecord) -> bool:
        """Record the media on its message item; False when the item is missing or already holds a
        stored media (a repeated job: nothing to change)."""
        try:
            self._table.update(
                {"pk": contact_pk(wa_id), "sk": inbound_sk(timestamp, wamid)},
                UpdateExpression="SET #media = :media",
                # The processor writes the message before its event exists; an item that is gone
                # (an operator removed it) is not recreated as a media record alone.
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(#media) OR #media.#state <> :stored)",
                ExpressionAttributeNames={"#media": "media", "#state": "state"},
                ExpressionAttributeValues={":media": record.as_attribute(), ":stored": "stored"},
            )
        except ConditionFailed:
            return False
        return True

    def restore(self, wa_id: str, timestamp: int, wamid: str, record: MediaRecord) -> bool:
        """Put back a record a put of the message dropped; False when the item holds one (the
        usual case: the event of the record's own write) or is missing. A read first: a failed
        conditional write would cost a write unit."""
        key = {"pk": contact_pk(wa_id), "sk": inbound_sk(timestamp, wamid)}
        item = self._table.get(key)
        if item is None or item.get("media") is not None:
            return False
        try:
            self._table.update(
                key,
                UpdateExpression="SET #media = :media",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#media)",
                ExpressionAttributeNames={"#media": "media"},
                ExpressionAttributeValues={":media": record.as_attribute()},
            )
        except ConditionFailed:
            return False
        return True

    def uploaded(self, sha256_hex: str, phone_number_id: str | None = None) -> str | None:
        """The media id of an upload of this content that Meta still keeps, if any (through
        ``phone_number_id``; None: the default number)."""
        item = self._table.get({"pk": media_upload_pk(sha256_hex), "sk": _upload_sk(phone_number_id)})
        if item is None or int(item.get("usable_until") or 0) <= self._clock():
            return None
        return str(item["media_id"])

    def remember_upload(
        self, sha256_hex: str, media_id: str, usable_seconds: int, phone_number_id: str | None = None
    ) -> None:
        now = int(self._clock())
        self._table.put(
            {
                "pk": media_upload_pk(sha256_hex),
                "sk": _upload_sk(phone_number_id),
                "media_id": media_id,
                "uploaded_at": now,
                "usable_until": now + usable_seconds,
                # The table's TTL removes it some time after Meta forgets the id.
                "expires_at": now + usable_seconds,
            }
        )


def _upload_sk(phone_number_id: str | None) -> str:
    """An upload is a media id of the number it went through: one item per number, the default's
    keeping the key it always had."""
    return MEDIA_UPLOAD_SK if phone_number_id is None else f"{MEDIA_UPLOAD_SK}#{phone_number_id}"
