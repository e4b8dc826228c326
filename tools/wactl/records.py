"""Reading the single table (docs/data-model.md) for the operator commands.

Point reads go through :class:`wacloud.store.ConversationStore`, the code that writes the items.
Its listing reads are single queries with a ``Limit``, which DynamoDB may cut short at 1 MB, so
the listings here page until they have what was asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.store import ConversationStore, contact_pk
from wactl.errors import WactlError, reason

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

T = TypeVar("T")


class TableError(WactlError):
    """The table could not be read."""


class Records:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.store = ConversationStore(table)

    def message(self, wamid: str) -> dict[str, Any] | None:
        return self._read(lambda: self.store.message(wamid))

    def profile(self, wa_id: str) -> dict[str, Any] | None:
        return self._read(lambda: self.store.profile(wa_id))

    def conversation(self, wa_id: str, limit: int) -> list[dict[str, Any]]:
        """The contact's latest ``limit`` messages, oldest first."""
        newest = list(
            self._query(
                limit,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": contact_pk(wa_id)},
                ScanIndexForward=False,
            )
        )
        return newest[::-1]

    def failed(self, day: str) -> list[dict[str, Any]]:
        """Failed status webhooks and failed sends of a day (index gsi2), in time order."""
        return list(
            self._query(
                None,
                IndexName="gsi2",
                KeyConditionExpression="gsi2pk = :pk",
                ExpressionAttributeValues={":pk": f"FAILED#{day}"},
            )
        )

    def raw_payloads(self, day: str, limit: int | None) -> Iterator[dict[str, Any]]:
        """Raw payloads received on a day (index gsi1), in order of receipt."""
        return self._query(
            limit,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": f"RAW#{day}"},
        )

    def raw_payload(self, sha256: str) -> dict[str, Any] | None:
        answer = self._read(
            lambda: self.table.get_item(Key={"pk": f"RAW#{sha256}", "sk": "RAW"}, ConsistentRead=True)
        )
        return answer.get("Item") if answer else None

    def _query(self, limit: int | None, **request: Any) -> Iterator[dict[str, Any]]:
        count = 0
        while limit is None or count < limit:
            if limit is not None:
                request["Limit"] = limit - count
            page = self._read(lambda: self.table.query(**request))
            for item in page.get("Items", []):
                count += 1
                yield item
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _read(self, read: Callable[[], T]) -> T:
        try:
            return read()
        except (BotoCoreError, ClientError) as exc:
            raise TableError(f"cannot read table {self.table.name} ({reason(exc)})") from exc


def errors_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors an item carries: a message's or failed send's ``status_errors``, or those of the
    status object a status event keeps in ``raw``."""
    for attribute in ("status_errors", "raw"):
        text = item.get(attribute)
        if not isinstance(text, str):
            continue
        try:
            found = json.loads(text)
        except ValueError:
            continue
        if isinstance(found, dict):
            found = found.get("errors")
        if isinstance(found, list):
            return [error for error in found if isinstance(error, dict)]
    codes = item.get("error_codes")
    return [{"code": code} for code in codes] if isinstance(codes, list) else []


def error_text(errors: list[dict[str, Any]]) -> str:
    """``131047 Re-engagement message``, one per error, ``-`` for none."""
    if not errors:
        return "-"
    return "; ".join(" ".join(str(part) for part in (e.get("code"), e.get("title")) if part) for e in errors)
