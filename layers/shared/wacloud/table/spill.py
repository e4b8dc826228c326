"""Items kept small: attributes too large for the table are spilled to S3, a pointer left behind.

DynamoDB refuses an item over 400 KB, and it would refuse it on every retry, forever. A signed POST
can be 3 MB, so an item built from one update (a message's ``raw`` and ``text``, an event's value,
an untyped part) may be larger. Such an item keeps its keys and small attributes; each of its
largest attributes, until the rest fits :data:`INLINE_ITEM_BYTES`, goes to the payload bucket as
an object named by its SHA-256, and the item holds ``<name>_s3`` instead: a pointer in the format
of the webhook's payload pointers (``{"s3": {"bucket", "key"}, "size", "sha256"}``). The object is
the attribute's text, or the JSON of any other value.

Content-addressed names make a spill idempotent: a redelivery writes the same object and the same
pointer, so the item is the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from wacloud.table.values import compact_json

# Past 32 KB an item is not an ordinary update (Meta caps a text message at 4,096 characters):
# one S3 PUT costs less than the 32 or more write units it would cost, twice with an index entry,
# on every write and redelivery; and the item stays far below DynamoDB's 400 KB.
INLINE_ITEM_BYTES = 32_768
SPILL_PREFIX = "spilled/"
POINTER_SUFFIX = "_s3"
# Attributes that stay whatever their size: keys (DynamoDB bounds them itself) and order keys.
_KEPT = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "consent_key", "expires_at"}


@dataclass(frozen=True)
class SpilledObject:
    """An object to put in the bucket before the item that points to it is written."""

    key: str
    body: bytes
    content_type: str


def spill(item: Mapping[str, Any], bucket: str) -> tuple[dict[str, Any], list[SpilledObject]]:
    """The item as it can be stored, and the objects its pointers name (none for most items)."""
    # Imported here: only the processor spills; the sender imports this module for the size
    # limit alone, and the envelope's dataclasses would lengthen its cold start.
    from wacloud.webhook.envelope import PayloadPointer  # noqa: PLC0415

    kept = dict(item)
    objects: list[SpilledObject] = []
    size = item_size(kept)
    if size <= INLINE_ITEM_BYTES:
        return kept, objects
    by_size = sorted(
        (name for name in kept if name not in _KEPT),
        key=lambda name: attribute_size(name, kept[name]),
        reverse=True,
    )
    for name in by_size:
        if size <= INLINE_ITEM_BYTES:
            break
        value = kept.pop(name)
        is_text = isinstance(value, str)
        body = (value if is_text else compact_json(_plain(value))).encode("utf-8")
        digest = hashlib.sha256(body).hexdigest()
        spilled = SpilledObject(
            f"{SPILL_PREFIX}{digest}", body, "text/plain; charset=utf-8" if is_text else "application/json"
        )
        objects.append(spilled)
        pointer = PayloadPointer(bucket, spilled.key, len(body), digest).to_json()
        kept[f"{name}{POINTER_SUFFIX}"] = pointer
        size += attribute_size(f"{name}{POINTER_SUFFIX}", pointer) - attribute_size(name, value)
    return kept, objects


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's measure of an item, closely enough: names and values, in bytes."""
    return sum(attribute_size(name, value) for name, value in item.items())


def attribute_size(name: str, value: Any) -> int:
    return len(name.encode("utf-8")) + _value_size(value)


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | Decimal):
        return 21  # DynamoDB's largest number: 38 digits in about 20 bytes, plus one
    if isinstance(value, Mapping):
        return 3 + sum(1 + attribute_size(str(key), item) for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(1 + _value_size(item) for item in value)
    return len(str(value).encode("utf-8"))


def _plain(value: Any) -> Any:
    """A stored value as JSON can hold it: sets as sorted lists, whole Decimals as integers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_plain(item) for item in value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
