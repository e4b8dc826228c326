"""The DynamoDB single table's conversation items: messages, status history, contacts, raw payloads.

Every write is idempotent and independent of arrival order, because Meta redelivers for days and
SQS is at-least-once and unordered:
- items fully determined by their key (an inbound message, one status event, an event of another
  field) are plain batched puts: writing one twice leaves the same item;
- state that evolves is split into facets (:mod:`wacloud.table.facets`), written only with a newer
  order key; the facets of one item are written together in one conditional update;
- a raw payload is archived once per body, keeping its earliest receipt.

Keys and items are spelled out in :mod:`.keys` and :mod:`.items`; AWS failures leave as
:class:`~wacloud.table.errors.TableUnavailableError` (:mod:`.client`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed
from wacloud.table.facets import STATUS_RANK, Facet, newest
from wacloud.table.items import OutboundRecord, RawArchive, outbound_fields, raw_archive_item
from wacloud.table.keys import (
    CONSENT_INDEX,
    CONVERSATION_INDEX,
    FAILED_INDEX,
    INDEX_PARTITION_KEYS,
    MESSAGE_SK,
    PROFILE_SK,
    RAW_SK,
    STATUS_SK_PREFIX,
    contact_pk,
    failed_day_pk,
    message_pk,
    raw_day_pk,
    raw_pk,
    wa_id_of,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


@dataclass(frozen=True)
class ContactProfile:
    """A contact of the reminder audience: who, and the name to greet them by."""

    wa_id: str
    name: str | None


@dataclass(frozen=True)
class ProfilePage:
    contacts: list[ContactProfile]
    cursor: dict[str, str] | None
    """Where the next page starts; None on the last page."""


class ConversationStore:
    def __init__(self, table: Table, clock: Callable[[], float] = time.time) -> None:
        self._table = TableClient(table)
        self._clock = clock

    @property
    def table_name(self) -> str:
        return self._table.name

    # ------------------------------------------------------------------ writes
    def put_items(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Batched puts of items fully determined by their key (safe to repeat, so unconditional)."""
        self._table.batch_put(items)

    def archive(self, archive: RawArchive) -> bool:
        """Archive a raw payload, keeping its earliest receipt; whether the body was new.

        Meta redelivers the same body in new requests and SQS may hand them over in any order, so
        "first processed wins" would depend on that order. The smallest receipt key (``gsi1sk``:
        receipt time, then request and message ids) does not.
        """
        item = raw_archive_item(archive)
        try:
            old = self._table.put(
                item,
                ConditionExpression="attribute_not_exists(pk) OR gsi1sk > :receipt",
                ExpressionAttributeValues={":receipt": item["gsi1sk"]},
                ReturnValues="ALL_OLD",
            )
        except ConditionFailed:
            return False  # this body was received earlier already
        return "Attributes" not in old

    def advance(
        self, pk: str, sk: str, facets: Iterable[Facet], constants: Mapping[str, Any] | None = None
    ) -> set[str]:
        """Write each facet whose key is newer than the stored one; the key attributes written.

        ``constants`` are attributes with one value for the item's whole life (the contact's wa_id,
        a message's recipient): set whenever they are missing, whichever facet wins.

        One conditional update writes every facet while all are newer (the usual case: updates
        arrive roughly in order). When one is not, the stored item that DynamoDB returns with the
        failed condition (at no extra cost) tells which facets are still behind, and those are
        retried alone. A stored key never decreases, so each retry drops at least one facet.
        """
        pending = {facet.key_attribute: facet for facet in newest(facets)}
        to_set = dict(constants or {})
        while pending or to_set:
            try:
                self._update_facets(pk, sk, list(pending.values()), to_set)
            except ConditionFailed as failed:
                stored = failed.stored
                if stored is None:
                    raise
                still_behind = {
                    name: facet
                    for name, facet in pending.items()
                    if name not in stored or str(stored[name]) < facet.key
                }
                if len(still_behind) == len(pending):
                    raise  # cannot happen with keys that only grow; never loop on it
                pending = still_behind
                to_set = {name: value for name, value in to_set.items() if name not in stored}
                continue
            return set(pending)
        return set()

    def advance_profile(self, wa_id: str, facets: Iterable[Facet]) -> set[str]:
        return self.advance(contact_pk(wa_id), PROFILE_SK, facets, {"wa_id": wa_id})

    def advance_message(self, wamid: str, facets: Iterable[Facet], recipient_id: str | None) -> set[str]:
        constants = {"wamid": wamid}
        if recipient_id:
            constants["recipient_id"] = recipient_id
        return self.advance(message_pk(wamid), MESSAGE_SK, facets, constants)

    def link_previous_number(self, new_wa_id: str, old_wa_id: str) -> None:
        """``user_changed_number`` on the new number's profile: the numbers it had before.

        Adding to a set is idempotent and commutes, so it needs no order key.
        """
        self._table.update(
            {"pk": contact_pk(new_wa_id), "sk": PROFILE_SK},
            UpdateExpression="ADD previous_wa_ids :old SET wa_id = :new",
            ExpressionAttributeValues={":old": {old_wa_id}, ":new": new_wa_id},
        )

    def record_outbound(self, record: OutboundRecord) -> None:
        """The sender's record of a message it sent; never touches the status fields."""
        fields = outbound_fields(record)
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        self._table.update(
            {"pk": message_pk(record.wamid), "sk": MESSAGE_SK},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    # ------------------------------------------------------------------ reads
    def message(self, wamid: str) -> dict[str, Any] | None:
        """The message item with its status history (oldest first) under ``history``."""
        items = self._query_all(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": message_pk(wamid)}
        )
        message = next((item for item in items if item["sk"] == MESSAGE_SK), None)
        history = [item for item in items if str(item["sk"]).startswith(STATUS_SK_PREFIX)]
        if message is None and not history:
            return None
        # Within one second the sort key orders statuses by name; their rank is the real order.
        history.sort(key=lambda item: (int(item["timestamp"]), STATUS_RANK.get(str(item["status"]), -1)))
        result = dict(message or {"pk": message_pk(wamid), "sk": MESSAGE_SK, "wamid": wamid})
        result["history"] = history
        return result

    def conversation(
        self, wa_id: str, limit: int | None = 50, newest_first: bool = False
    ) -> list[dict[str, Any]]:
        return self._listing(CONVERSATION_INDEX, contact_pk(wa_id), limit, ScanIndexForward=not newest_first)

    def profile(self, wa_id: str) -> dict[str, Any] | None:
        return self._table.get({"pk": contact_pk(wa_id), "sk": PROFILE_SK})

    def failed_messages(self, day: str, limit: int | None = 100) -> list[dict[str, Any]]:
        return self._listing(FAILED_INDEX, failed_day_pk(day), limit)

    def raw_payloads(self, day: str, limit: int | None = 100) -> list[dict[str, Any]]:
        return self._listing(CONVERSATION_INDEX, raw_day_pk(day), limit)

    def raw_payload(self, sha256: str) -> dict[str, Any] | None:
        return self._table.get({"pk": raw_pk(sha256), "sk": RAW_SK})

    def opted_in_contacts(
        self, cursor: Mapping[str, str] | None, page_size: int, *, exclude_marketing_stopped: bool
    ) -> ProfilePage:
        """A page of the contacts who opted in and did not move to another number.

        A Scan, but of the sparse ``consent`` index, holding only profiles with a consent keyword:
        its cost follows the number of those contacts, not the size of the table.
        """
        names = {"#in": "opted_in", "#moved": "changed_to"}
        values: dict[str, Any] = {":yes": True}
        condition = "#in = :yes AND attribute_not_exists(#moved)"
        if exclude_marketing_stopped:
            names["#stopped"] = "marketing_stopped"
            condition += " AND NOT #stopped = :yes"
        request: dict[str, Any] = {
            "IndexName": CONSENT_INDEX,
            "FilterExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": page_size,
        }
        if cursor:
            request["ExclusiveStartKey"] = dict(cursor)
        page = self._table.scan_page(**request)
        contacts = [
            ContactProfile(
                wa_id=str(item.get("wa_id") or wa_id_of(str(item["pk"]))),
                name=str(item["profile_name"]) if item.get("profile_name") else None,
            )
            for item in page.get("Items", [])
            if item.get("sk") == PROFILE_SK
        ]
        last = page.get("LastEvaluatedKey")
        return ProfilePage(contacts, {k: str(v) for k, v in last.items()} if last else None)

    # ------------------------------------------------------------------ helpers
    def _update_facets(self, pk: str, sk: str, facets: Sequence[Facet], constants: Mapping[str, Any]) -> None:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        assignments: list[str] = []
        conditions: list[str] = []

        def assign(attribute: str, value: Any) -> str:
            name, placeholder = f"#a{len(names)}", f":v{len(values)}"
            names[name] = attribute
            values[placeholder] = value
            assignments.append(f"{name} = {placeholder}")
            return name

        for facet in facets:
            key_name = assign(facet.key_attribute, facet.key)
            conditions.append(f"(attribute_not_exists({key_name}) OR {key_name} < :v{len(values) - 1})")
            for attribute, value in facet.values.items():
                assign(attribute, value)
        for attribute, value in constants.items():
            assign(attribute, value)
        request: dict[str, Any] = {
            "key": {"pk": pk, "sk": sk},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._table.update(**request)

    def _listing(self, index: str, partition: str, limit: int | None, **request: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` items of one partition of an index, in sort key order."""
        return list(
            self._table.query(
                limit,
                IndexName=index,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": INDEX_PARTITION_KEYS[index]},
                ExpressionAttributeValues={":pk": partition},
                **request,
            )
        )

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        return list(self._table.query(None, ConsistentRead=True, **kwargs))
