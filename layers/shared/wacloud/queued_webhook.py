"""The contract between the webhook function and the processor: one SQS message per webhook POST.

The message body is Meta's raw request body, byte for byte. When it cannot travel inline (over
SQS's size limit, or bytes SQS cannot carry), the body goes to S3 and the message carries a small
JSON pointer instead; the ``payload_location`` attribute says which.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ATTR_RECEIVED_AT = "received_at_ms"
ATTR_REQUEST_ID = "request_id"
ATTR_LOCATION = "payload_location"
LOCATION_INLINE = "inline"
LOCATION_S3 = "s3"

# SQS counts attributes in its 1 MiB limit; keep a margin for ours.
SQS_MAX_BYTES = 1_048_576
INLINE_BODY_LIMIT = SQS_MAX_BYTES - 8_192
_NOT_SQS_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class PayloadPointer:
    bucket: str
    key: str
    size: int
    sha256: str

    def to_json(self) -> str:
        return json.dumps(
            {"s3": {"bucket": self.bucket, "key": self.key}, "size": self.size, "sha256": self.sha256},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> PayloadPointer:
        data: dict[str, Any] = json.loads(text)
        return cls(
            bucket=data["s3"]["bucket"], key=data["s3"]["key"], size=data["size"], sha256=data["sha256"]
        )


def sqs_can_carry(body: bytes) -> str | None:
    """The body as text when SQS can carry it unchanged, else None.

    SQS message bodies are Unicode limited to the XML character range; Meta's JSON is ASCII with
    ``\\uXXXX`` escapes, but a signed body is forwarded whatever it holds, so check.
    """
    if len(body) > INLINE_BODY_LIMIT:
        return None
    try:
        text = body.decode("utf-8")  # strict: lone surrogates cannot come through
    except UnicodeDecodeError:
        return None
    return None if _NOT_SQS_CHARACTERS.search(text) else text
