"""Queries in the emulated DynamoDB that cost what DynamoDB's do: one partition, not the table.

moto answers every Query by sorting the whole table (``Table.all_items``), comparing keys through
``DynamoType``, whose comparisons rebuild Python values on every call, and then filtering on the
partition key. A Query of one contact's partition in a table of a few thousand items then takes
a quarter of a second of CPU, so a test or a local run that sends a thousand messages spends
minutes in the emulator. Two changes keep every answer identical:

- ``all_items`` sorts on the keys' Python values computed once per item. A key attribute has one
  type in every item (the table's schema says which), so the order is the one moto computes.
- A Query on the table itself (no index) looks only at the partition it names, which moto keeps
  apart already (``Table.items`` is keyed by partition), instead of at every item.

Queries of an index, scans and everything else run moto's own code unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.models.table import Table

_scope = threading.local()
_installed = False


def install() -> None:
    """Patch moto's DynamoDB table in this process; calling it again changes nothing."""
    global _installed  # noqa: PLW0603 (one patch per process)
    if _installed:
        return
    original_query = Table.query

    def all_items(self: Table) -> list[Any]:
        partition = getattr(_scope, "partition", None)
        if partition is not None and partition[0] is self:
            held = self.items.get(partition[1])
            groups = [held] if held is not None else []
        else:
            groups = list(self.items.values())
        items = [item for group in groups for item in group.values()] if self.range_key_attr else groups
        return sorted(items, key=_sort_key)

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _scope.partition = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _scope.partition = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    _installed = True


def _sort_key(item: Any) -> tuple[Any, ...]:
    range_key = item.range_key
    if range_key:
        return (item.hash_key.cast_value, range_key.cast_value)
    return (item.hash_key.cast_value,)
