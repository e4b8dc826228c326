"""The contract between the webhook function and the processor: one SQS message per webhook POST.

The message body is Meta's raw request body, byte for byte. When it cannot travel inline (over
SQS's size limit, or bytes SQS cannot carry), the body goes to S3 and the message carries a small
JSON pointer instead; the ``payload_location`` attribute says which. :class:`QueuedWebhook` is the
one definition of that message: the webhook writes it, the processor reads it from its Lambda
event, and the operator tools read it from the queues and write it again on a replay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

ATTR_RECEIVED_AT = "received_at_ms"
ATTR_REQUEST_ID = "request_id"
ATTR_LOCATION = "payload_location"
LOCATION_INLINE = "inline"
LOCATION_S3 = "s3"

# SQS counts attributes in its 1 MiB limit; keep a margin for ours.
SQS_MAX_BYTES = 1_048_576
INLINE_BODY_LIMIT = SQS_MAX_BYTES - 8_192
# The characters SQS refuses that valid UTF-8 can hold (lone surrogates cannot), as the bytes
# that encode them: in valid UTF-8 a byte below 0x20 is always that control character, and
# EF BF BE / EF BF BF always U+FFFE / U+FFFF. Byte operations cost microseconds where a
# character-class regex over the text cost a millisecond per 100 KB. Small bodies (Meta's
# usual) are scanned in one pass (translate); large ones by one memchr per refused byte, which
# is then faster than copying the body.
_SQS_REFUSED_CONTROL_BYTES = bytes(code for code in range(0x20) if code not in (0x09, 0x0A, 0x0D))
_SQS_REFUSED_CONTROLS = tuple(bytes([code]) for code in _SQS_REFUSED_CONTROL_BYTES)
_ONE_PASS_UP_TO = 16_384
_SQS_REFUSED_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")


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


@dataclass(frozen=True)
class QueuedWebhook:
    """One message of the webhook queue: the body (or its pointer) and the receipt attributes."""

    body: str
    location: str
    received_at_ms: int
    request_id: str
    message_id: str = ""
    """The SQS message id, once queued."""

    @property
    def in_bucket(self) -> bool:
        return self.location == LOCATION_S3

    def pointer(self) -> PayloadPointer:
        """Where the body is when :attr:`in_bucket`; raises ValueError or KeyError if malformed."""
        return PayloadPointer.from_json(self.body)

    def sqs_attributes(self) -> dict[str, MessageAttributeValueTypeDef]:
        """The message attributes of ``SendMessage``."""
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            ATTR_RECEIVED_AT: {"DataType": "Number", "StringValue": str(self.received_at_ms)},
            ATTR_LOCATION: {"DataType": "String", "StringValue": self.location},
        }
        # SQS refuses empty attribute values.
        if self.request_id:
            attributes[ATTR_REQUEST_ID] = {"DataType": "String", "StringValue": self.request_id}
        return attributes

    @classmethod
    def from_lambda_record(cls, record: Mapping[str, Any]) -> QueuedWebhook:
        """From a record of Lambda's SQS event (attribute values under ``stringValue``)."""
        system = record.get("attributes") or {}
        return cls._from_parts(
            record["messageId"], record["body"], record.get("messageAttributes") or {}, "stringValue", system
        )

    @classmethod
    def from_sqs_message(cls, message: Mapping[str, Any]) -> QueuedWebhook:
        """From a message of SQS ``ReceiveMessage`` (attribute values under ``StringValue``)."""
        system = message.get("Attributes") or {}
        return cls._from_parts(
            message["MessageId"],
            message.get("Body", ""),
            message.get("MessageAttributes") or {},
            "StringValue",
            system,
        )

    @classmethod
    def _from_parts(
        cls,
        message_id: str,
        body: str,
        attributes: Mapping[str, Any],
        value_key: str,
        system: Mapping[str, Any],
    ) -> QueuedWebhook:
        def attribute(name: str) -> str | None:
            value = (attributes.get(name) or {}).get(value_key)
            return str(value) if value else None

        # Messages queued without a receipt time (by hand) fall back on SQS's own.
        sent = system.get("SentTimestamp") or int(time.time() * 1000)
        return cls(
            body=body,
            location=attribute(ATTR_LOCATION) or LOCATION_INLINE,
            received_at_ms=int(attribute(ATTR_RECEIVED_AT) or sent),
            request_id=attribute(ATTR_REQUEST_ID) or "",
            message_id=message_id,
        )


def sqs_can_carry(body: bytes, text: str | None = None) -> str | None:
    """The body as text when SQS can carry it unchanged, else None.

    SQS message bodies are Unicode limited to the XML character range; Meta's JSON is ASCII with
    ``\\uXXXX`` escapes, but a signed body is forwarded whatever it holds, so check. ``text``,
    when given, is the body decoded already (``body`` is its UTF-8): not decoded again, and
    when it is ASCII (known without a scan) it holds no noncharacter.
    """
    if len(body) > INLINE_BODY_LIMIT:
        return None
    if text is None:
        try:
            text = body.decode("utf-8")  # strict: lone surrogates cannot come through
        except UnicodeDecodeError:
            return None
    if len(body) <= _ONE_PASS_UP_TO:
        if len(body.translate(None, _SQS_REFUSED_CONTROL_BYTES)) != len(body):
            return None
    elif any(control in body for control in _SQS_REFUSED_CONTROLS):
        return None
    # Meta's bodies are ASCII: one search for their lead byte spares the other two.
    if not text.isascii() and b"\xef" in body and any(c in body for c in _SQS_REFUSED_NONCHARACTERS):
        return None
    return text
