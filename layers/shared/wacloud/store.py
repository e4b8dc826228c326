"""The DynamoDB single table: messages, status history, contacts, raw payloads (docs/data-model.md).

Every write is idempotent and independent of arrival order, because Meta redelivers for days and
SQS is at-least-once and unordered:
- items fully determined by their key (an inbound message, one status event, a raw payload) are
  plain puts: writing one twice leaves the same item;
- state that evolves (a message's current status, a contact's last inbound message, consent) is an
  update guarded by an *order key*: it applies only when its key is greater than the stored one,
  so the final state is the one of the greatest key, whatever the order of arrival.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

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

    def put_if_absent(self, item: Mapping[str, Any]) -> bool:
        """Put unless an item with that key exists (first delivery wins); whether it was written."""
        return self._guarded(
            lambda: self._table.put_item(Item=dict(item), ConditionExpression="attribute_not_exists(pk)")
        )

    def record_inbound(self, wa_id: str, timestamp: int, wamid: str, name: str | None) -> None:
        """The contact's latest inbound message: it opens the 24-hour window and names the contact."""
        names: dict[str, str] = {"#key": "last_inbound_key"}
        values: dict[str, Any] = {
            ":key": time_key(timestamp, wamid),
            ":at": timestamp,
            ":wamid": wamid,
            ":wa_id": wa_id,
        }
        assignments = [
            "#key = :key",
            "last_inbound_at = :at",
            "last_inbound_wamid = :wamid",
            "wa_id = :wa_id",
        ]
        if name:
            assignments.append("profile_name = :name")
            values[":name"] = name
        self._guarded_update(contact_pk(wa_id), PROFILE_SK, assignments, names, values)

    def record_consent(self, wa_id: str, opted_in: bool, timestamp: int, wamid: str, reason: str) -> None:
        """Opt-in state from the contact's latest consent keyword (STOP, START, ...)."""
        self._guarded_update(
            contact_pk(wa_id),
            PROFILE_SK,
            ["#key = :key", "opted_in = :in", "consent_at = :at", "consent_reason = :why", "wa_id = :wa_id"],
            {"#key": "consent_key"},
            {
                ":key": time_key(timestamp, wamid),
                ":in": opted_in,
                ":at": timestamp,
                ":why": reason,
                ":wa_id": wa_id,
            },
        )

    def record_marketing_stopped(self, wa_id: str, timestamp: int, wamid: str) -> None:
        """Error 131050: the user stopped marketing messages from the business."""
        self._guarded_update(
            contact_pk(wa_id),
            PROFILE_SK,
            ["#key = :key", "marketing_stopped_at = :at", "marketing_stopped = :yes", "wa_id = :wa_id"],
            {"#key": "marketing_stopped_key"},
            {":key": time_key(timestamp, wamid), ":at": timestamp, ":yes": True, ":wa_id": wa_id},
        )

    def record_number_change(self, old_wa_id: str, new_wa_id: str, timestamp: int, wamid: str) -> None:
        """``user_changed_number``: link both profiles, newest change wins on the old one."""
        self._guarded_update(
            contact_pk(old_wa_id),
            PROFILE_SK,
            ["#key = :key", "changed_to = :new", "changed_at = :at", "wa_id = :old"],
            {"#key": "changed_key"},
            {":key": time_key(timestamp, wamid), ":new": new_wa_id, ":at": timestamp, ":old": old_wa_id},
        )
        self._table.update_item(
            Key={"pk": contact_pk(new_wa_id), "sk": PROFILE_SK},
            UpdateExpression="ADD previous_wa_ids :old SET wa_id = :new",
            ExpressionAttributeValues={":old": {old_wa_id}, ":new": new_wa_id},
        )

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
        rank = STATUS_RANK.get(status)
        if rank is None:
            return False
        assignments = ["#key = :key", "#status = :status", "status_at = :at", "wamid = :wamid"]
        values: dict[str, Any] = {
            ":key": f"{rank}#{timestamp:010d}#{status}",
            ":status": status,
            ":at": timestamp,
            ":wamid": wamid,
        }
        if recipient_id:
            assignments.append("recipient_id = :to")
            values[":to"] = recipient_id
        if status == "failed":
            assignments += ["status_errors = :errors", "gsi2pk = :failed_day", "gsi2sk = :failed_key"]
            values[":errors"] = compact_json(errors)
            values[":failed_day"] = f"FAILED#{day_of(timestamp)}"
            values[":failed_key"] = time_key(timestamp, wamid)
        return self._guarded_update(
            message_pk(wamid), MESSAGE_SK, assignments, {"#key": "status_key", "#status": "status"}, values
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
        result = dict(message or {"pk": message_pk(wamid), "sk": MESSAGE_SK, "wamid": wamid})
        result["history"] = history
        return result

    def conversation(self, wa_id: str, limit: int = 50, newest_first: bool = False) -> list[dict[str, Any]]:
        response = self._table.query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": contact_pk(wa_id)},
            ScanIndexForward=not newest_first,
            Limit=limit,
        )
        return list(response.get("Items", []))

    def profile(self, wa_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": contact_pk(wa_id), "sk": PROFILE_SK}, ConsistentRead=True)
        return item.get("Item")

    def failed_messages(self, day: str, limit: int = 100) -> list[dict[str, Any]]:
        response = self._table.query(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk",
            ExpressionAttributeValues={":pk": f"FAILED#{day}"},
            Limit=limit,
        )
        return list(response.get("Items", []))

    def raw_payloads(self, day: str, limit: int = 100) -> list[dict[str, Any]]:
        response = self._table.query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": f"RAW#{day}"},
            Limit=limit,
        )
        return list(response.get("Items", []))

    # ------------------------------------------------------------------ helpers
    def _guarded_update(
        self,
        pk: str,
        sk: str,
        assignments: list[str],
        names: dict[str, str],
        values: dict[str, Any],
    ) -> bool:
        return self._guarded(
            lambda: self._table.update_item(
                Key={"pk": pk, "sk": sk},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_not_exists(#key) OR #key < :key",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        )

    @staticmethod
    def _guarded(write: Callable[[], object]) -> bool:
        try:
            write()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # an equal or newer state is already stored
            raise
        return True

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = self._table.query(ConsistentRead=True, **kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
