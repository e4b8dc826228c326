"""The sender's own items in the single table: idempotency claims, failed sends, reminder runs.

Keys (spelled out in :mod:`wacloud.table.keys`, beside the conversation items):

- ``IDEMPOTENCY#<key>`` / ``CLAIM``: one per idempotency key. ``state`` is ``pending`` while a
  sender owns it (until ``lease_until``), ``done`` with the first request's ``result`` once Meta
  accepted the message or may have (a ``failed`` result titled "Outcome unknown": the request
  went out and its answer was lost, or the owner stopped while sending), ``released`` when
  nothing was sent and a later request may try again. ``expires_at`` (TTL) frees the key after
  :data:`IDEMPOTENCY_TTL_SECONDS`.
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

from wacloud.core.observability import logger
from wacloud.meta.outbound import SendResult
from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed, TableUnavailableError
from wacloud.table.items import FailedSend, failed_send_item
from wacloud.table.keys import (
    CLAIM_SK,
    FAILED_SEND_SK,
    RUN_SK,
    failed_send_pk,
    idempotency_pk,
    reminder_run_pk,
)
from wacloud.table.values import compact_json

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

IDEMPOTENCY_TTL_SECONDS = 7 * 86_400
REMINDER_RUN_TTL_SECONDS = 8 * 86_400
PENDING = "pending"
DONE = "done"
RELEASED = "released"


class LedgerUnavailableError(TableUnavailableError):
    """The idempotency ledger could not be read or written: nothing may be sent without a claim."""


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
        self._table = TableClient(table)
        self._clock = clock
        self._ttl = ttl_seconds

    # ------------------------------------------------------------------ idempotency
    def claim(self, key: str, fingerprint: str, lease_seconds: float) -> Claim | Taken:
        """Take ``key`` for one send, unless another request holds it or already sent it.

        A conditional put, so of two concurrent requests exactly one wins. An expired item counts
        as absent, because TTL deletion lags by up to days.
        """
        now = int(self._clock())
        token = uuid.uuid4().hex
        try:
            answer = self._table.put(
                {
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
        except ConditionFailed as failed:
            return self._taken(key, fingerprint, failed.stored, now)
        except TableUnavailableError as exc:
            raise LedgerUnavailableError(f"cannot claim an idempotency key: {exc}") from exc
        previous = answer.get("Attributes") or {}
        return Claim(key, token, bool(previous.get("failed_send_recorded")))

    def complete(self, claim: Claim, result: SendResult) -> None:
        """Keep the result: from now on the key answers with it."""
        self._settle(claim, DONE, {"result": result.model_dump_json(), "completed_at": int(self._clock())})

    def release(self, claim: Claim, failed_send_recorded: bool) -> None:
        """Nothing was sent: a later request with the key may send."""
        self._settle(claim, RELEASED, {"failed_send_recorded": failed_send_recorded})

    def settle_abandoned(self, key: str, result: SendResult) -> bool:
        """Keep ``result`` for a claim whose owner stopped before settling it (its lease ended).

        False when another request settled it first, or it is no longer pending.
        """
        now = int(self._clock())
        try:
            self._table.update(
                {"pk": idempotency_pk(key), "sk": CLAIM_SK},
                UpdateExpression="SET #state = :done, #result = :result, completed_at = :now",
                ConditionExpression="#state = :pending AND lease_until < :now",
                ExpressionAttributeNames={"#state": "state", "#result": "result"},
                ExpressionAttributeValues={
                    ":done": DONE,
                    ":pending": PENDING,
                    ":result": result.model_dump_json(),
                    ":now": now,
                },
            )
        except ConditionFailed:
            return False
        return True

    def _settle(self, claim: Claim, state: str, fields: Mapping[str, Any]) -> None:
        names = {"#state": "state", **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = {
            ":state": state,
            ":owner": claim.token,
            **{f":v{i}": value for i, value in enumerate(fields.values())},
        }
        assignments = ["#state = :state", *(f"#f{i} = :v{i}" for i in range(len(fields)))]
        try:
            self._table.update(
                {"pk": idempotency_pk(claim.key), "sk": CLAIM_SK},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={**names, "#owner": "owner"},
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            # Only the owner settles a claim and claims are never taken over, so this means the
            # item expired and was reused: the newer request's state must stand.
            logger.error("idempotency claim no longer ours", extra={"idempotency_key": claim.key})

    def _taken(self, key: str, fingerprint: str, raw: Mapping[str, Any] | None, now: int) -> Taken:
        item = raw if raw is not None else self._read(key)
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
        try:
            return self._table.get({"pk": idempotency_pk(key), "sk": CLAIM_SK})
        except TableUnavailableError as exc:
            raise LedgerUnavailableError(f"cannot read an idempotency key: {exc}") from exc

    # ------------------------------------------------------------------ failed sends
    def record_failed_send(self, failed: FailedSend) -> None:
        self._table.put(failed_send_item(failed))

    def forget_failed_send(self, send_id: str) -> None:
        """A later attempt with the same key succeeded: the failure needs no follow-up any more."""
        self._table.delete({"pk": failed_send_pk(send_id), "sk": FAILED_SEND_SK})

    # ------------------------------------------------------------------ reminder runs
    def reminder_run_finished(self, date: str) -> bool:
        return self._table.get({"pk": reminder_run_pk(date), "sk": RUN_SK}) is not None

    def finish_reminder_run(self, date: str, enqueued: int) -> None:
        now = int(self._clock())
        self._table.put(
            {
                "pk": reminder_run_pk(date),
                "sk": RUN_SK,
                "date": date,
                "finished_at": now,
                "enqueued": enqueued,
                "expires_at": now + REMINDER_RUN_TTL_SECONDS,
            }
        )
