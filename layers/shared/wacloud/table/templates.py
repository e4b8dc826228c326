"""The template catalog in the single table, as the Graph API lists it and the webhooks change it.

Keys (spelled out in :mod:`wacloud.table.keys`): one partition ``TEMPLATES``, so that one query
reads the whole catalog:

- ``TEMPLATES`` / ``TEMPLATE#<name>#<language>``: a template in one language: ``name``,
  ``language``, ``status``, ``category``, ``template_id``, ``body_params``, ``header_format``,
  ``header_params``, ``quality``, ``updated_at`` and ``source`` (``sync`` or the webhook field
  that changed it last).
- ``TEMPLATES`` / ``SYNC``: the last sync: ``synced_at`` and ``templates`` of the last one that
  succeeded, ``failed_at`` and ``error`` of the last one that failed.

A sync replaces the catalog (templates no longer listed are deleted); a template webhook updates
the fields it names on its template's item, creating it when the catalog does not hold it yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wacloud.meta.templates import TemplateChange, TemplateDefinition
from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed
from wacloud.table.keys import PK, SK, TEMPLATE_SK_PREFIX, TEMPLATE_SYNC_SK, TEMPLATES_PK, template_sk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class CatalogSnapshot:
    """The catalog as read at one time: templates by (name, language), and its sync state."""

    templates: dict[tuple[str, str], TemplateDefinition] = field(default_factory=dict)
    synced_at: int | None = None
    failed_at: int | None = None
    error: str | None = None

    @property
    def known(self) -> bool:
        """Whether there is a catalog at all (synced once, or told of a template by a webhook)."""
        return self.synced_at is not None or bool(self.templates)

    def names(self) -> set[str]:
        return {name for name, _ in self.templates}


class TemplateCatalogStore:
    def __init__(self, table: Table, clock: Callable[[], float] = time.time) -> None:
        self._table = TableClient(table)
        self._clock = clock

    def snapshot(self) -> CatalogSnapshot:
        """The whole catalog: one query (paged past 1 MB). Raises TableUnavailableError."""
        templates: dict[tuple[str, str], TemplateDefinition] = {}
        sync: Mapping[str, Any] = {}
        for item in self._table.query(
            None,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":pk": TEMPLATES_PK},
            ConsistentRead=False,
        ):
            if item.get(SK) == TEMPLATE_SYNC_SK:
                sync = item
            elif str(item.get(SK, "")).startswith(TEMPLATE_SK_PREFIX):
                definition = _definition(item)
                templates[(definition.name, definition.language)] = definition
        return CatalogSnapshot(
            templates=templates,
            synced_at=_int(sync.get("synced_at")),
            failed_at=_int(sync.get("failed_at")),
            error=sync.get("error"),
        )

    def replace(self, definitions: Iterable[TemplateDefinition]) -> int:
        """The catalog becomes ``definitions``: templates listed no more are deleted. Their count."""
        now = int(self._clock())
        items = {template_sk(d.name, d.language): _item(d, now, "sync") for d in definitions}
        stale = [{PK: TEMPLATES_PK, SK: sk} for sk in self._template_keys() if sk not in items]
        self._table.batch_put(items.values())
        if stale:
            self._table.batch_delete(stale)
        self._table.put({PK: TEMPLATES_PK, SK: TEMPLATE_SYNC_SK, "synced_at": now, "templates": len(items)})
        return len(items)

    def note_sync_failure(self, error: str) -> None:
        """The last sync failed: the catalog stays as it was; the sync item says why."""
        self._table.update(
            {PK: TEMPLATES_PK, SK: TEMPLATE_SYNC_SK},
            UpdateExpression="SET failed_at = :at, #error = :error",
            ExpressionAttributeNames={"#error": "error"},
            ExpressionAttributeValues={":at": int(self._clock()), ":error": error[:MAX_ERROR_CHARS]},
        )

    def apply(self, change: TemplateChange, source: str, at: int) -> bool:
        """A template webhook's change, on its template's item (created when missing).

        ``at`` is the webhook's time (its entry's): a change older than the item's last one (a
        sync after it, a later webhook) is dropped, and a redelivered one writes the same values.
        Whether it was applied.
        """
        sets: dict[str, Any] = {"name": change.name, "language": change.language, "source": source}
        for attribute in ("status", "quality", "category", "template_id", "reason"):
            value = getattr(change, attribute)
            if value is not None:
                sets[attribute] = value
        names = {f"#a{n}": attribute for n, attribute in enumerate(sets)}
        values: dict[str, Any] = {f":v{n}": value for n, value in enumerate(sets.values())}
        assignments = [f"#a{n} = :v{n}" for n in range(len(sets))]
        names["#at"] = "updated_at"
        request: dict[str, Any] = {}
        if at:
            assignments.append("#at = :at")
            request["ConditionExpression"] = "attribute_not_exists(#at) OR #at <= :at"
            values[":at"] = at
        else:
            # A webhook without a time: as of now, once (a redelivery changes nothing).
            assignments.append("#at = if_not_exists(#at, :now)")
            values[":now"] = int(self._clock())
        try:
            self._table.update(
                {PK: TEMPLATES_PK, SK: template_sk(change.name, change.language)},
                UpdateExpression="SET " + ", ".join(assignments),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **request,
            )
        except ConditionFailed:
            return False
        return True

    def _template_keys(self) -> list[str]:
        return [
            str(item[SK])
            for item in self._table.query(
                None,
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
                ExpressionAttributeNames={"#pk": PK, "#sk": SK},
                ExpressionAttributeValues={":pk": TEMPLATES_PK, ":prefix": TEMPLATE_SK_PREFIX},
                ProjectionExpression="#sk",
                ConsistentRead=True,
            )
        ]


def _item(definition: TemplateDefinition, now: int, source: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        PK: TEMPLATES_PK,
        SK: template_sk(definition.name, definition.language),
        "name": definition.name,
        "language": definition.language,
        "status": definition.status,
        "header_params": definition.header_params,
        "updated_at": now,
        "source": source,
    }
    for attribute in ("category", "template_id", "body_params", "header_format", "quality"):
        value = getattr(definition, attribute)
        if value is not None:
            item[attribute] = value
    return item


def _definition(item: Mapping[str, Any]) -> TemplateDefinition:
    return TemplateDefinition(
        name=str(item.get("name")),
        language=str(item.get("language")),
        status=str(item.get("status", "UNKNOWN")),
        category=item.get("category"),
        template_id=item.get("template_id"),
        body_params=_int(item.get("body_params")),
        header_format=item.get("header_format"),
        header_params=_int(item.get("header_params")) or 0,
        quality=item.get("quality"),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
