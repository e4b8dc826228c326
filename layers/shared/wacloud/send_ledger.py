"""The sender's own items in the single table: idempotency claims, failed sends, reminder runs.

Keys (strings, beside the conversation items of :mod:`wacloud.store`):

- ``IDEMPOTENCY#<key>`` / ``CLAIM``: one per idempotency key. ``state`` is ``pending`` while a
  sender owns it (until ``lease_until``), ``done`` with the first request's ``result`` once Meta
  answered for good, ``released`` when nothing was sent and a later request may try again.
  ``expires_at`` (TTL) frees the key after :data:`IDEMPOTENCY_TTL_SECONDS`.
- ``SEND#<id>`` / ``FAILED``: a send that failed before Meta gave it a wamid, listed on the
  failed-messages index (``gsi2pk = FAILED#<day>``) beside failed status webhooks.
- ``REMINDER_RUN#<date>`` / ``RUN``: the day's reminder fan-out finished, so a repeated schedule
  (EventBridge Scheduler delivers at least once) enqueues nothing.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from wacloud.errors import WaCloudError
from wacloud.observability import logger
from wacloud.outbound.models import SendResult
from wacloud.store import compact_json, day_of, time_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

IDEMPOTENCY_TTL_SECONDS = 7 * 86_400
REMINDER_RUN_TTL_SECONDS = 8 * 86_400
CLAIM_SK = "CLAIM"
FAILED_SEND_SK = "FAILED"
RUN_SK = "RUN"

PENDING = "pending"
DONE = "done"
RELEASED = "released"

_CONDITION_FAILED = "ConditionalCheckFailedException"


class LedgerUnavailableError(WaCloudError):
    """The idempotency ledger could not be read or written: nothing may be sent without a claim."""

    retryable = True


def idempotency_pk(key: str) -> str:
    return f"IDEMPOTENCY#{key}"


def failed_send_pk(send_id: str) -> str:
    return f"SEND#{send_id}"


def reminder_run_pk(date: str) -> str:
    return f"REMINDER_RUN#{date}"


def request_fingerprint(body: Mapping[str, Any]) -> str:
    """Identifies the request a key was first used for, to catch a key reused for another message."""
    return hashlib.sha256(compact_json(dict(body)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Claim:
    """This sender owns the key and may send."""

    key: str
    token: str
    failed_send_recorded: bool
    """An earlier attempt with this key failed and left a failed-send item to clear on success."""


@dataclass(frozen=True)
class Taken:
    """Another request holds or finished the key: do not send."""

    key: str
    state: Literal["pending", "done"]
    same_request: bool
    result: SendResult | None  # the first request's result once ``done``
    lease_expired: bool  # ``pending`` and its owner's invocation is over: the outcome is unknown


class SendLedger:
    def __init__(
        self,
        table: Table,
        clock: Callable[[], float] = time.time,
        ttl_seconds: int = IDEMPOTENCY_TTL_SECONDS,
    ) -> None:
        self._table = table
        self._clock = clock
        self._ttl = ttl_seconds
        self._deserializer = TypeDeserializer()

    # ------------------------------------------------------------------ idempotency
    def claim(self, key: str, fingerprint: str, lease_seconds: float) -> Claim | Taken:
        """Take ``key`` for one send, unless another request holds it or already sent it.

        A conditional put, so of two concurrent requests exactly one wins. An expired item counts
        as absent, because TTL deletion lags by up to days.
        """
        now = int(self._clock())
        token = uuid.uuid4().hex
        try:
            answer = self._table.put_item(
                Item={
                    "pk": idempotency_pk(key),
                    "sk": CLAIM_SK,
                    "idempotency_key": key,
                    "state": PENDING,
                    "owner": token,
                    "fingerprint": fingerprint,
                    "lease_until": now + int(lease_seconds) + 1,
                    "claimed_at": now,
                    "expires_at": now + self._ttl,
                },
                ConditionExpression="attribute_not_exists(pk) OR #state = :released OR expires_at < :now",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":released": RELEASED, ":now": now},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise LedgerUnavailableError(f"cannot claim an idempotency key ({_code(exc)})") from exc
            stored: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            return self._taken(key, fingerprint, stored, now)
        except BotoCoreError as exc:
            raise LedgerUnavailableError(f"cannot claim an idempotency key ({type(exc).__name__})") from exc
        previous = answer.get("Attributes") or {}
        return Claim(key, token, bool(previous.get("failed_send_recorded")))

    def complete(self, claim: Claim, result: SendResult) -> None:
        """Keep the result: from now on the key answers with it."""
        self._settle(claim, DONE, {"result": result.model_dump_json(), "completed_at": int(self._clock())})

    def release(self, claim: Claim, failed_send_recorded: bool) -> None:
        """Nothing was sent: a later request with the key may send."""
        self._settle(claim, RELEASED, {"failed_send_recorded": failed_send_recorded})

    def _settle(self, claim: Claim, state: str, fields: Mapping[str, Any]) -> None:
        names = {"#state": "state", **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = {
            ":state": state,
            ":owner": claim.token,
            **{f":v{i}": value for i, value in enumerate(fields.values())},
        }
        assignments = ["#state = :state", *(f"#f{i} = :v{i}" for i in range(len(fields)))]
        try:
            self._table.update_item(
                Key={"pk": idempotency_pk(claim.key), "sk": CLAIM_SK},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={**names, "#owner": "owner"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            # Only the owner settles a claim and claims are never taken over, so this means the
            # item expired and was reused: the newer request's state must stand.
            logger.error("idempotency claim no longer ours", extra={"idempotency_key": claim.key})

    def _taken(self, key: str, fingerprint: str, raw: Mapping[str, Any] | None, now: int) -> Taken:
        item = self._plain(raw) if raw else self._read(key)
        state = PENDING if item is None else item.get("state")
        result = None
        if state == DONE and item is not None and item.get("result"):
            result = SendResult.model_validate_json(str(item["result"]))
        lease_until = int(item.get("lease_until", 0)) if item is not None else 0
        return Taken(
            key=key,
            state="done" if state == DONE else "pending",
            same_request=item is None or item.get("fingerprint") == fingerprint,
            result=result,
            lease_expired=state == PENDING and lease_until < now,
        )

    def _read(self, key: str) -> dict[str, Any] | None:
        answer = self._table.get_item(Key={"pk": idempotency_pk(key), "sk": CLAIM_SK}, ConsistentRead=True)
        return answer.get("Item")

    def _plain(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The item returned with a failed condition is in DynamoDB's typed JSON, even via a Table."""
        return {name: self._deserializer.deserialize(value) for name, value in raw.items()}

    # ------------------------------------------------------------------ failed sends
    def record_failed_send(self, send_id: str, fields: Mapping[str, Any]) -> None:
        now = int(self._clock())
        self._table.put_item(
            Item={
                **fields,
                "pk": failed_send_pk(send_id),
                "sk": FAILED_SEND_SK,
                "send_id": send_id,
                "timestamp": now,
                "gsi2pk": f"FAILED#{day_of(now)}",
                "gsi2sk": time_key(now, send_id),
            }
        )

    def forget_failed_send(self, send_id: str) -> None:
        """A later attempt with the same key succeeded: the failure needs no follow-up any more."""
        self._table.delete_item(Key={"pk": failed_send_pk(send_id), "sk": FAILED_SEND_SK})

    def failed_send(self, send_id: str) -> dict[str, Any] | None:
        answer = self._table.get_item(
            Key={"pk": failed_send_pk(send_id), "sk": FAILED_SEND_SK}, ConsistentRead=True
        )
        return answer.get("Item")

    # ------------------------------------------------------------------ reminder runs
    def reminder_run_finished(self, date: str) -> bool:
        answer = self._table.get_item(Key={"pk": reminder_run_pk(date), "sk": RUN_SK}, ConsistentRead=True)
        return "Item" in answer

    def finish_reminder_run(self, date: str, enqueued: int) -> None:
        now = int(self._clock())
        self._table.put_item(
            Item={
                "pk": reminder_run_pk(date),
                "sk": RUN_SK,
                "date": date,
                "finished_at": now,
                "enqueued": enqueued,
                "expires_at": now + REMINDER_RUN_TTL_SECONDS,
            }
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
