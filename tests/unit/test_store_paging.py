"""The store's listing reads page: DynamoDB ends a query page at 1 MB whatever the Limit."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from wacloud.table.store import ConversationStore


class PagedTable:
    """A table whose client answers queries in pages of two items, as DynamoDB does when pages
    hit 1 MB."""

    name = "paged"

    def __init__(self, count: int) -> None:
        self.items = [{"pk": f"RAW#{i}", "sk": "RAW"} for i in range(count)]
        self.requests: list[dict[str, Any]] = []
        self.meta = SimpleNamespace(client=self)

    def query(self, **request: Any) -> dict[str, Any]:
        assert request.pop("TableName") == self.name
        self.requests.append(dict(request))
        start = request.get("ExclusiveStartKey", {}).get("at", 0)
        end = min(start + 2, start + request.get("Limit", 2), len(self.items))
        page: dict[str, Any] = {"Items": self.items[start:end]}
        if end < len(self.items):
            page["LastEvaluatedKey"] = {"at": end}
        return page

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        """The listed raw payloads' items: the day's index holds their keys only."""
        keys = RequestItems[self.name]["Keys"]
        return {"Responses": {self.name: [item for item in self.items if item in keys]}}


def test_unlimited_listing_reads_every_page() -> None:
    table = PagedTable(5)
    items = ConversationStore(table).raw_payloads("2026-11-21", limit=None)  # type: ignore[arg-type]
    assert items == table.items
    assert len(table.requests) == 3
    assert all("Limit" not in request for request in table.requests)


def test_limited_listing_pages_until_the_limit() -> None:
    table = PagedTable(9)
    items = ConversationStore(table).failed_messages("2026-11-21", limit=5)  # type: ignore[arg-type]
    assert items == table.items[:5]
    assert [request["Limit"] for request in table.requests] == [5, 3, 1]
