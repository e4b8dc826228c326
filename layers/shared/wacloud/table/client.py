"""The calls the store and ledger make to the table, through the ``Table`` resource's client.

The client, not the resource: clients are thread-safe and resources are not, and the processor
writes from several threads. It is the resource's own client (``table.meta.client``), on which
boto3 registered the resource's conversion of values: requests take Python values and answers
return them, as through the resource.

Every AWS failure leaves here as :class:`TableUnavailableError` (retryable), except a failed write
condition, which is an expected outcome and leaves as :class:`ConditionFailed` with the stored item.
Batch writes retry the items DynamoDB leaves unprocessed (it does when throttled) with jittered
exponential backoff, a bounded number of times, then give up with :class:`TableUnavailableError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.errors import ConditionFailed, TableUnavailableError
from wacloud.table.keys import PK, SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table

_CONDITION_FAILED = "ConditionalCheckFailedException"
_DESERIALIZER = TypeDeserializer()
# DynamoDB's limits per BatchWriteItem and BatchGetItem request.
BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts at what DynamoDB left unprocessed: "full jitter" (a random wait up to
    ``base * 2**n``, at most ``cap``), so that throttled writers spread out instead of retrying in
    step. ``attempts`` bounds the calls; about 3 s of waiting in all with the defaults."""

    base_seconds: float = 0.05
    cap_seconds: float = 1.0
    attempts: int = 8

    def delay(self, attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        """The wait before retry number ``attempt`` (1 for the first retry)."""
        return rng(0.0, min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)))


class TableClient:
    def __init__(
        self,
        table: Table,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = table.name
        self._client: DynamoDBClient = table.meta.client
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._clock = clock

    @property
    def name(self) -> str:
        return self._name

    def put(self, item: Mapping[str, Any], **request: Any) -> dict[str, Any]:
        with _translated("PutItem"):
            return dict(self._client.put_item(TableName=self._name, Item=dict(item), **request))

    def update(self, key: Mapping[str, Any], **request: Any) -> dict[str, Any]:
        with _translated("UpdateItem"):
            return dict(self._client.update_item(TableName=self._name, Key=dict(key), **request))

    def delete(self, key: Mapping[str, Any]) -> None:
        with _translated("DeleteItem"):
            self._client.delete_item(TableName=self._name, Key=dict(key))

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        with _translated("GetItem"):
            item = self._client.get_item(TableName=self._name, Key=dict(key), ConsistentRead=True).get("Item")
        return dict(item) if item is not None else None

    def batch_put(self, items: Iterable[Mapping[str, Any]], *, until: float | None = None) -> None:
        """Puts of items fully determined by their key (safe to repeat, so unconditional).

        An item whose key comes again replaces the earlier one (a request may not hold one key
        twice). ``until`` (a :func:`time.monotonic` time) ends the waiting early: no wait that
        would end after it is started.
        """
        self._batch_write([{"PutRequest": {"Item": dict(item)}} for item in _last_per_key(items)], until)

    def batch_delete(self, keys: Iterable[Mapping[str, Any]], *, until: float | None = None) -> None:
        self._batch_write([{"DeleteRequest": {"Key": dict(key)}} for key in keys], until)

    def batch_get(
        self,
        keys: Sequence[Mapping[str, Any]],
        *,
        attributes: Iterable[str] | None = None,
        consistent: bool = True,
    ) -> list[dict[str, Any]]:
        """The items that exist among ``keys`` (in no particular order): only their key and
        ``attributes`` when given; consistent reads unless ``consistent`` is False (half the
        price, and may miss the latest writes)."""
        request: dict[str, Any] = {"ConsistentRead": consistent}
        if attributes is not None:
            names = {f"#p{i}": name for i, name in enumerate(sorted({PK, SK, *attributes}))}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_MAX):
            pending: list[Any] = [dict(key) for key in keys[start : start + BATCH_GET_MAX]]
            for attempt in range(1, self._backoff.attempts + 1):
                with _translated("BatchGetItem"):
                    wanted: Any = {"Keys": pending, **request}
                    answer: Mapping[str, Any] = self._client.batch_get_item(RequestItems={self._name: wanted})
                found += [dict(item) for item in answer.get("Responses", {}).get(self._name, [])]
                pending = list(answer.get("UnprocessedKeys", {}).get(self._name, {}).get("Keys", []))
                if not pending:
                    break
                if attempt < self._backoff.attempts:
                    self._wait(attempt, None, f"BatchGetItem left {_count(len(pending), 'key')} unread")
            else:
                raise TableUnavailableError(
                    f"BatchGetItem left {_count(len(pending), 'key')} unread (throttled)"
                )
        return found

    def query(self, limit: int | None, **request: Any) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` items (all when None), paging: DynamoDB stops a page at 1 MB."""
        count = 0
        while limit is None or count < limit:
            if limit is not None:
                request["Limit"] = limit - count
            with _translated("Query"):
                page = self._client.query(TableName=self._name, **request)
            for item in page.get("Items", []):
                count += 1
                yield dict(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def query_page(self, **request: Any) -> dict[str, Any]:
        with _translated("Query"):
            return dict(self._client.query(TableName=self._name, **request))

    def scan_page(self, **request: Any) -> dict[str, Any]:
        with _translated("Scan"):
            return dict(self._client.scan(TableName=self._name, **request))

    # ------------------------------------------------------------------ helpers
    def _batch_write(self, requests: list[dict[str, Any]], until: float | None) -> None:
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            pending: list[Any] = requests[start : start + BATCH_WRITE_MAX]
            for attempt in range(1, self._backoff.attempts + 1):
                with _translated("BatchWriteItem"):
                    answer: Mapping[str, Any] = self._client.batch_write_item(
                        RequestItems={self._name: pending}
                    )
                pending = list(answer.get("UnprocessedItems", {}).get(self._name, []))
                if not pending:
                    break
                if attempt < self._backoff.attempts:
                    self._wait(
                        attempt, until, f"BatchWriteItem left {_count(len(pending), 'item')} unwritten"
                    )
            else:
                raise TableUnavailableError(
                    f"BatchWriteItem left {_count(len(pending), 'item')} unwritten after "
                    f"{self._backoff.attempts} attempts (throttled)"
                )

    def _wait(self, attempt: int, until: float | None, what: str) -> None:
        delay = self._backoff.delay(attempt)
        if until is not None and self._clock() + delay > until:
            raise TableUnavailableError(f"{what} (throttled), and no time is left to try again")
        self._sleep(delay)


def _item(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's typed JSON (as a failed condition returns it) as Python values."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in raw.items()}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _last_per_key(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    by_key: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    for item in items:
        by_key[(item[PK], item[SK])] = item
    return list(by_key.values())


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        response: Mapping[str, Any] = exc.response
        code = str(response.get("Error", {}).get("Code", "ClientError"))
        if code == _CONDITION_FAILED:
            raw = response.get("Item")
            raise ConditionFailed(_item(raw) if raw else None) from exc
        raise TableUnavailableError(f"{operation} on the table failed ({code})") from exc
    except BotoCoreError as exc:
        raise TableUnavailableError(f"{operation} on the table failed ({type(exc).__name__})") from exc
