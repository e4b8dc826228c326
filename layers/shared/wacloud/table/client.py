"""The table's boto3 resource behind the calls the store and ledger make.

Every AWS failure leaves here as :class:`TableUnavailableError` (retryable), except a failed write
condition, which is an expected outcome and leaves as :class:`ConditionFailed` with the stored item
(DynamoDB returns it in its typed JSON even through a Table resource, so it is converted here).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.errors import ConditionFailed, TableUnavailableError
from wacloud.table.keys import PK, SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_CONDITION_FAILED = "ConditionalCheckFailedException"
_DESERIALIZER = TypeDeserializer()


class TableClient:
    def __init__(self, table: Table) -> None:
        self._table = table

    @property
    def name(self) -> str:
        return self._table.name

    def put(self, item: Mapping[str, Any], **request: Any) -> dict[str, Any]:
        with _translated("PutItem"):
            return dict(self._table.put_item(Item=dict(item), **request))

    def update(self, key: Mapping[str, Any], **request: Any) -> dict[str, Any]:
        with _translated("UpdateItem"):
            return dict(self._table.update_item(Key=dict(key), **request))

    def delete(self, key: Mapping[str, Any]) -> None:
        with _translated("DeleteItem"):
            self._table.delete_item(Key=dict(key))

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        with _translated("GetItem"):
            item = self._table.get_item(Key=dict(key), ConsistentRead=True).get("Item")
        return dict(item) if item is not None else None

    def batch_put(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Puts of items fully determined by their key (safe to repeat, so unconditional)."""
        with _translated("BatchWriteItem"), self._table.batch_writer(overwrite_by_pkeys=[PK, SK]) as batch:
            for item in items:
                batch.put_item(Item=dict(item))

    def query(self, limit: int | None, **request: Any) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` items (all when None), paging: DynamoDB stops a page at 1 MB."""
        count = 0
        while limit is None or count < limit:
            if limit is not None:
                request["Limit"] = limit - count
            with _translated("Query"):
                page = self._table.query(**request)
            for item in page.get("Items", []):
                count += 1
                yield dict(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan_page(self, **request: Any) -> dict[str, Any]:
        with _translated("Scan"):
            return dict(self._table.scan(**request))


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        response: Mapping[str, Any] = exc.response
        code = str(response.get("Error", {}).get("Code", "ClientError"))
        if code == _CONDITION_FAILED:
            raw = response.get("Item")
            stored = {name: _DESERIALIZER.deserialize(value) for name, value in raw.items()} if raw else None
            raise ConditionFailed(stored) from exc
        raise TableUnavailableError(f"{operation} on the table failed ({code})") from exc
    except BotoCoreError as exc:
        raise TableUnavailableError(f"{operation} on the table failed ({type(exc).__name__})") from exc
