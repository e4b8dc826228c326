"""The DynamoDB single table: messages, status history, contacts, raw payloads (docs/data-model.md).

Every write is idempotent and independent of arrival order, because Meta redelivers for days and
SQS is at-least-once and unordered:
- items fully determined by their key (an inbound message, one status event, an event of another
  field) are plain batched puts: writing one twice leaves the same item;
- state that evolves (a message's current status, a contact's last inbound message, name, consent)
  is split into *facets*, each with an *order key*: a facet is written only when its key is greater
  than the stored one, so each facet ends as the one of its greatest key, whatever the order of
  arrival. The facets of one item are written together in one conditional update;
- a raw payload is archived once per body, keeping its earliest receipt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

PROFILE_SK = "PROFILE"
MESSAGE_SK = "MESSAGE"
RAW_SK = "RAW"

# Where a status stands in a message's life. Statuses not listed (deleted, warning, ...) are kept in
# the history but do not change the current status. `failed` ranks last so it is never replaced.
STATUS_RANK = {
    "accepted": 0,
    "held_for_quality_assessment": 0,
    "sent": 1,
    "delivered": 2,
    "read": 3,
    "failed": 4,
}

_CONDITION_FAILED = "ConditionalCheckFailedException"
_DESERIALIZER = TypeDeserializer()


def contact_pk(wa_id: str) -> str:
    return f"CONTACT#{wa_id}"


def message_pk(wamid: str) -> str:
    return f"MSG#{wamid}"


def raw_pk(sha256: str) -> str:
    return f"RAW#{sha256}"


def time_key(timestamp: int, tiebreak: str) -> str:
    """Sortable as a string: zero-padded epoch seconds, then a tiebreaker for equal seconds."""
    return f"{timestamp:010d}#{tiebreak}"


def day_of(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Facet:
    """A part of an item that evolves on its own: ``values`` are written only with a newer ``key``.

    ``key_attribute`` names the stored order key. Keys compare as strings, so they are built from
    zero-padded numbers (see :func:`time_key`).
    """

    key_attribute: str
    key: str
    values: Mapping[str, Any]


def newest(facets: Iterable[Facet]) -> list[Facet]:
    """One facet per key attribute, the one with the greatest key: what a series of writes leaves."""
    kept: dict[str, Facet] = {}
    for facet in facets:
        current = kept.get(facet.key_attribute)
        if current is None or facet.key > current.key:
            kept[facet.key_attribute] = facet
    return list(kept.values())


# ---------------------------------------------------------------------- facets of a contact profile
def inbound_facet(timestamp: int, wamid: str) -> Facet:
    """The contact's latest inbound message: it opens the 24-hour customer service window."""
    return Facet(
        "last_inbound_key",
        time_key(timestamp, wamid),
        {"last_inbound_at": timestamp, "last_inbound_wamid": wamid},
    )


def name_facet(timestamp: int, wamid: str, name: str) -> Facet:
    """The profile name of the latest message that carried one (system messages carry none)."""
    return Facet("profile_name_key", time_key(timestamp, wamid), {"profile_name": name})


def consent_facet(timestamp: int, wamid: str, opted_in: bool, reason: str) -> Facet:
    """Opt-in state from the contact's latest consent keyword (STOP, START, ...)."""
    return Facet(
        "consent_key",
        time_key(timestamp, wamid),
        {"opted_in": opted_in, "consent_at": timestamp, "consent_reason": reason},
    )


def marketing_stopped_facet(timestamp: int, wamid: str) -> Facet:
    """Error 131050 on a status: the user stopped marketing messages from the business."""
    return Facet(
        "marketing_stopped_key",
        time_key(timestamp, wamid),
        {"marketing_stopped": True, "marketing_stopped_at": timestamp},
    )


def number_change_facet(timestamp: int, wamid: str, new_wa_id: str) -> Facet:
    """``user_changed_number`` on the old number's profile: the newest change wins."""
    return Facet(
        "changed_key", time_key(timestamp, wamid), {"changed_to": new_wa_id, "changed_at": timestamp}
    )


# ---------------------------------------------------------------------- facet of a message
def status_facet(
    status: str, timestamp: int, wamid: str, errors: Sequence[Mapping[str, Any]]
) -> Facet | None:
    """The message's current status, ordered by rank then time; None for unranked statuses."""
    rank = STATUS_RANK.get(status)
    if rank is None:
        return None
    values: dict[str, Any] = {"status": status, "status_at": timestamp}
    if status == "failed":
        # The sparse index gsi2 lists failed messages by day: only failed messages carry its keys.
        values["status_errors"] = compact_json(list(errors))
        values["gsi2pk"] = f"FAILED#{day_of(timestamp)}"
        values["gsi2sk"] = time_key(timestamp, wamid)
    return Facet("status_key", f"{rank}#{timestamp:010d}#{status}", values)


class ConversationStore:
    def __init__(self, table: Table, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    # ------------------------------------------------------------------ writes
    def put_items(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Batched puts of items fully determined by their key (safe to repeat, so unconditional)."""
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item in items:
                batch.put_item(Item=dict(item))

    def archive(self, item: Mapping[str, Any]) -> bool:
        """Archive a raw payload, keeping its earliest receipt; whether the body was new.

        Meta redelivers the same body in new requests and SQS may hand them over in any order, so
        "first processed wins" would depend on that order. The smallest receipt key (``gsi1sk``:
        receipt time, then request and message ids) does not.
        """
        try:
            old = self._table.put_item(
                Item=dict(item),
                ConditionExpression="attribute_not_exists(pk) OR gsi1sk > :receipt",
                ExpressionAttributeValues={":receipt": item["gsi1sk"]},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False  # this body was received earlier already
            raise
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
            except ClientError as exc:
                response: Mapping[str, Any] = exc.response
                if not _condition_failed(exc) or "Item" not in response:
                    raise
                stored = {name: _DESERIALIZER.deserialize(value) for name, value in response["Item"].items()}
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

    # One-facet conveniences, for writers other than the processor (which folds a POST's facets).
    def record_inbound(self, wa_id: str, timestamp: int, wamid: str, name: str | None) -> None:
        """A message from the contact: it opens the 24-hour window and (when given) names the contact."""
        facets = [inbound_facet(timestamp, wamid)]
        if name:
            facets.append(name_facet(timestamp, wamid, name))
        self.advance_profile(wa_id, facets)

    def record_consent(self, wa_id: str, opted_in: bool, timestamp: int, wamid: str, reason: str) -> bool:
        """Opt-in state from a consent keyword (STOP, START, ...) or another source of consent."""
        return bool(self.advance_profile(wa_id, [consent_facet(timestamp, wamid, opted_in, reason)]))

    def record_marketing_stopped(self, wa_id: str, timestamp: int, wamid: str) -> bool:
        """Error 131050: the user stopped marketing messages from the business."""
        return bool(self.advance_profile(wa_id, [marketing_stopped_facet(timestamp, wamid)]))

    def apply_status(
        self,
        wamid: str,
        status: str,
        timestamp: int,
        recipient_id: str | None,
        errors: list[dict[str, Any]],
    ) -> bool:
        """Move the message's current status forward; whether it moved.

        A status can arrive before the sender recorded the message: the update then creates the
        item with the status alone, and the sender's record fills in the rest without touching it.
        """
        facet = status_facet(status, timestamp, wamid, errors)
        if facet is None:
            return False
        return bool(self.advance_message(wamid, [facet], recipient_id))

    def record_number_change(self, old_wa_id: str, new_wa_id: str, timestamp: int, wamid: str) -> None:
        """``user_changed_number``: link both profiles, newest change wins on the old one."""
        self.advance_profile(old_wa_id, [number_change_facet(timestamp, wamid, new_wa_id)])
        self.link_previous_number(new_wa_id, old_wa_id)

    def link_previous_number(self, new_wa_id: str, old_wa_id: str) -> None:
        """``user_changed_number`` on the new number's profile: the numbers it had before.

        Adding to a set is idempotent and commutes, so it needs no order key.
        """
        self._table.update_item(
            Key={"pk": contact_pk(new_wa_id), "sk": PROFILE_SK},
            UpdateExpression="ADD previous_wa_ids :old SET wa_id = :new",
            ExpressionAttributeValues={":old": {old_wa_id}, ":new": new_wa_id},
        )

    def record_outbound(self, wamid: str, fields: Mapping[str, Any]) -> None:
        """The sender's record of a message it sent; never touches the status fields."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        self._table.update_item(
            Key={"pk": message_pk(wamid), "sk": MESSAGE_SK},
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
        history = [item for item in items if str(item["sk"]).startswith("STATUS#")]
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
        return list(
            self._query(
                limit,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": contact_pk(wa_id)},
                ScanIndexForward=not newest_first,
            )
        )

    def profile(self, wa_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": contact_pk(wa_id), "sk": PROFILE_SK}, ConsistentRead=True)
        return item.get("Item")

    def failed_messages(self, day: str, limit: int | None = 100) -> list[dict[str, Any]]:
        return list(
            self._query(
                limit,
                IndexName="gsi2",
                KeyConditionExpression="gsi2pk = :pk",
                ExpressionAttributeValues={":pk": f"FAILED#{day}"},
            )
        )

    def raw_payloads(self, day: str, limit: int | None = 100) -> list[dict[str, Any]]:
        return list(
            self._query(
                limit,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": f"RAW#{day}"},
            )
        )

    def raw_payload(self, sha256: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": raw_pk(sha256), "sk": RAW_SK}, ConsistentRead=True)
        return item.get("Item")

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
            "Key": {"pk": pk, "sk": sk},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._table.update_item(**request)

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        return list(self._query(None, ConsistentRead=True, **kwargs))

    def _query(self, limit: int | None, **request: Any) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` items (all when None), paging: DynamoDB stops a page at 1 MB."""
        count = 0
        while limit is None or count < limit:
            if limit is not None:
                request["Limit"] = limit - count
            page = self._table.query(**request)
            for item in page.get("Items", []):
                count += 1
                yield item
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED
