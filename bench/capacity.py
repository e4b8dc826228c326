"""DynamoDB capacity as AWS bills it, counted from the calls a client makes (moto reports none).

On demand, a write costs one write unit (WU) per KB of the item, the larger of its size before and
after (PutItem, UpdateItem, DeleteItem and each request of a BatchWriteItem alike), and again per
KB of each index entry the write adds, changes or removes; a write whose condition fails still
costs the stored item's units (at least one). A read costs one read unit (RU) per 4 KB read
(GetItem: the item; Query: the items the page read, summed), half of it when eventually
consistent. Item sizes follow DynamoDB's rules: attribute names and values in UTF-8, numbers by
their digits, one byte per list or map element plus three per list or map; an index entry is its
keys, the table's keys and the projected attributes, plus 100 bytes.

The meter hooks a boto3 session's ``before-call``/``after-call`` events (install it before the
clients are created: clients copy the session's handlers) and reads each written item before and
after the call with a client of its own, so it sees what the write changed.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

Item = dict[str, Any]
"""An item in DynamoDB's typed JSON (``{"pk": {"S": "..."}}``)."""

INDEX_ENTRY_OVERHEAD = 100
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


# ------------------------------------------------------------------------------ sizes
def value_size(value: Mapping[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in content)
    if kind == "NS":
        return sum(number_size(str(n)) for n in content)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + value_size(element) for name, element in content.items()
        )
    raise ValueError(f"unknown attribute type {kind}")


def number_size(text: str) -> int:
    """About one byte per two significant digits, plus one."""
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit)) if size else 0


# ------------------------------------------------------------------------------ indexes
@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str
    included: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any] | None, table_keys: tuple[str, ...]) -> Item | None:
        """The index entry an item makes (None: the item is not in this sparse index)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {*self.keys, *table_keys}
        if self.projection == "INCLUDE":
            names |= set(self.included)
        return {name: value for name, value in item.items() if name in names}


@dataclass
class Usage:
    """What the metered calls cost."""

    write_units: int = 0
    read_units: float = 0.0
    index_write_units: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    items_written: int = 0
    failed_conditions: int = 0
    sizes: list[tuple[str, str, int]] = field(default_factory=list)
    """(pk, sk, bytes) of every item written, after the write."""

    @property
    def total_write_units(self) -> int:
        return self.write_units + sum(self.index_write_units.values())


class CapacityMeter:
    """Counts the units of the calls made to one table through the clients of a session."""

    def __init__(self, table_name: str, reader: Any | None = None) -> None:
        self.table_name = table_name
        self._reader = reader or boto3.Session().client("dynamodb")
        described = self._reader.describe_table(TableName=table_name)["Table"]
        self.table_keys = tuple(key["AttributeName"] for key in described["KeySchema"])
        self.indexes = [
            Index(
                index["IndexName"],
                tuple(key["AttributeName"] for key in index["KeySchema"]),
                index["Projection"]["ProjectionType"],
                tuple(index["Projection"].get("NonKeyAttributes", [])),
            )
            for index in described.get("GlobalSecondaryIndexes", [])
        ]
        self.usage = Usage()
        self._lock = threading.Lock()
        self._active = False

    @contextmanager
    def installed(self, session: boto3.Session) -> Iterator[CapacityMeter]:
        session.events.register("before-call.dynamodb", self._before)
        session.events.register("after-call.dynamodb", self._after)
        self._active = True
        try:
            yield self
        finally:
            # Clients created meanwhile keep their copy of the handlers: they do nothing from now.
            self._active = False
            session.events.unregister("before-call.dynamodb", self._before)
            session.events.unregister("after-call.dynamodb", self._after)

    def reset(self) -> Usage:
        with self._lock:
            usage, self.usage = self.usage, Usage()
        return usage

    # -------------------------------------------------------------------------- hooks
    def _before(self, model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        if not self._active:
            return
        request = json.loads(params.get("body") or b"{}")
        keys = [key for key in self._written_keys(model.name, request) if key is not None]
        context["capacity_before"] = (request, {self._id(key): self._get(key) for key in keys})

    def _after(self, model: Any, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "capacity_before" not in context:
            return
        request, before = context.pop("capacity_before")
        name = model.name
        with self._lock:
            self.usage.calls[name] += 1
        if name in ("GetItem", "Query", "Scan", "BatchGetItem"):
            self._count_read(name, request, parsed)
            return
        if not before:
            return
        error = (parsed.get("Error") or {}).get("Code")
        unprocessed = {
            self._id(self._key_of(entry))
            for entry in (parsed.get("UnprocessedItems") or {}).get(self.table_name, [])
        }
        for ident, old in before.items():
            if ident in unprocessed:
                continue
            if error == "ConditionalCheckFailedException":
                with self._lock:
                    self.usage.failed_conditions += 1
                    self.usage.write_units += max(1, units(item_size(old), WRITE_UNIT_BYTES))
                continue
            if error:
                continue
            new = self._get(json.loads(ident))
            self._count_write(old, new)

    # -------------------------------------------------------------------------- counting
    def _count_write(self, old: Item | None, new: Item | None) -> None:
        written = max(units(item_size(old), WRITE_UNIT_BYTES), units(item_size(new), WRITE_UNIT_BYTES), 1)
        index_units: Counter[str] = Counter()
        for index in self.indexes:
            before = index.entry(old, self.table_keys)
            after = index.entry(new, self.table_keys)
            if before == after:
                continue  # nothing the index holds changed: no index write
            if before is not None and after is not None and _keys(before, index) == _keys(after, index):
                sizes = [max(item_size(before), item_size(after))]  # the entry updated in place
            else:
                sizes = [item_size(entry) for entry in (before, after) if entry is not None]  # removed, added
            index_units[index.name] += sum(
                units(size + INDEX_ENTRY_OVERHEAD, WRITE_UNIT_BYTES) for size in sizes
            )
        with self._lock:
            self.usage.write_units += written
            self.usage.index_write_units.update(index_units)
            self.usage.items_written += 1
            if new is not None:
                self.usage.sizes.append((_text(new.get("pk")), _text(new.get("sk")), item_size(new)))

    def _count_read(self, name: str, request: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        if name == "GetItem":
            found = [parsed["Item"]] if parsed.get("Item") else []
            consistent = bool(request.get("ConsistentRead"))
        elif name == "BatchGetItem":
            found = list((parsed.get("Responses") or {}).get(self.table_name, []))
            consistent = bool(
                (request.get("RequestItems") or {}).get(self.table_name, {}).get("ConsistentRead")
            )
        else:
            found = list(parsed.get("Items") or [])
            consistent = bool(request.get("ConsistentRead"))
        factor = 1.0 if consistent else 0.5
        if name == "BatchGetItem":
            read = sum(max(1, units(item_size(item), READ_UNIT_BYTES)) for item in found)
        else:
            # A query is billed on the items it read, summed; an empty one still costs a unit.
            read = max(1, units(sum(item_size(item) for item in found), READ_UNIT_BYTES))
        with self._lock:
            self.usage.read_units += read * factor

    # -------------------------------------------------------------------------- keys
    def _written_keys(self, name: str, request: Mapping[str, Any]) -> list[Item | None]:
        if request.get("TableName", self.table_name) != self.table_name:
            return []
        if name == "PutItem":
            return [self._key_of({"PutRequest": {"Item": request["Item"]}})]
        if name in ("UpdateItem", "DeleteItem"):
            return [dict(request["Key"])]
        if name == "BatchWriteItem":
            return [
                self._key_of(entry) for entry in (request.get("RequestItems") or {}).get(self.table_name, [])
            ]
        return []

    def _key_of(self, entry: Mapping[str, Any]) -> Item:
        if "PutRequest" in entry:
            item = entry["PutRequest"]["Item"]
            return {name: item[name] for name in self.table_keys}
        return dict(entry["DeleteRequest"]["Key"])

    @staticmethod
    def _id(key: Mapping[str, Any]) -> str:
        return json.dumps(key, sort_keys=True)

    def _get(self, key: Mapping[str, Any]) -> Item | None:
        item: Item | None = self._reader.get_item(
            TableName=self.table_name, Key=dict(key), ConsistentRead=True
        ).get("Item")
        return item


def _keys(entry: Item, index: Index) -> tuple[Any, ...]:
    return tuple(json.dumps(entry.get(key), sort_keys=True) for key in index.keys)


def _text(value: Mapping[str, Any] | None) -> str:
    return str(next(iter(value.values()))) if value else ""
