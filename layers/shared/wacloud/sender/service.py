"""What the sender function does with each kind of work it is given.

- a send request invoked directly: results go back to the caller, retryable failures included;
- a send request from EventBridge: sent at once; if some item may succeed soon, the request
  (with its idempotency keys) goes on the outbound queue, whose retries and dead-letter queue
  take over;
- a record of the outbound queue: a send request, a reminder job or a fan-out continuation; a
  record that may succeed soon is handed back so SQS redelivers it;
- the daily schedule: the reminder fan-out.

Requests from a queue or EventBridge get an idempotency key per item when they carry none,
derived from the SQS message id or the event id, which stay the same when the service delivers
the same message again: a redelivered request answers finished items from the ledger instead
of sending them twice. An event without an id is refused: its items would share keys with
every other such event.

When Meta refuses the access token (190) and the secret holds no other, nothing can be sent
until someone replaces it: queue records go back to the queue (and after its receives to the
dead-letter queue), and an EventBridge event fails its invocation, so that Lambda's retries and
then the failure destination keep it. Direct callers get a retryable failure per item.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from wacloud.core.errors import WaCloudError
from wacloud.core.observability import logger
from wacloud.core.settings import ReminderSettings
from wacloud.meta.access_token import AccessTokenRejected
from wacloud.meta.outbound import Problem, SendRequestError, SendResponse, parse_send_request
from wacloud.sender.delivery import MessageSender, RetryBy, SendReport
from wacloud.sender.queue import OutboundQueue
from wacloud.sender.reminders import (
    FANOUT_JOB,
    REMINDER_JOB,
    FanoutJob,
    FanoutSummary,
    ReminderFanout,
    ReminderJob,
    is_stale,
    queued_job_kind,
    reminder_request,
    scheduled_time,
)
from wacloud.sender.retry import Deadline

if TYPE_CHECKING:
    from wacloud.meta.outbound import OutboundItem


class RedeliveryRequested(WaCloudError):
    """Some item of a queued record may succeed soon: the record goes back to the queue."""

    retryable = True


# Long enough for EventBridge's and SQS's ids (UUIDs), short enough that a derived key stays
# within the 128 characters of an idempotency key.
MAX_SOURCE_ID_CHARS = 100


class InvalidQueuedRecord(WaCloudError):
    """A queued body is neither a send request nor a job; it stays on the queue until the DLQ."""


def with_default_keys(request: Any, prefix: str) -> Any:
    """``request`` with ``<prefix>:<index>`` as the idempotency key of each item that has none."""
    if not isinstance(request, Mapping):
        return request
    messages = request.get("messages")
    if isinstance(messages, list):
        keyed = [
            {**item, "idempotency_key": f"{prefix}:{index}"}
            if isinstance(item, Mapping) and item.get("idempotency_key") is None
            else item
            for index, item in enumerate(messages)
        ]
        return {**request, "messages": keyed}
    if request.get("idempotency_key") is None:
        return {**request, "idempotency_key": f"{prefix}:0"}
    return request


class SenderService:
    def __init__(
        self,
        sender: MessageSender,
        queue: OutboundQueue,
        fanout: ReminderFanout,
        reminders: ReminderSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sender = sender
        self._queue = queue
        self._fanout = fanout
        self._reminders = reminders
        self._clock = clock

    def send_direct(self, request: object, deadline: Deadline) -> SendResponse:
        """Raises SendRequestError for a request that breaks the contract (any JSON value may come)."""
        return self._sender.send_all(self._parse(request), deadline).response

    def send_event(self, event: Mapping[str, Any], deadline: Deadline) -> SendResponse:
        """An EventBridge event whose ``detail`` is a send request.

        Raises SendRequestError for an invalid event, and AccessTokenRejected when Meta refused
        the access token: the invocation fails, so Lambda tries the event again later.
        """
        event_id = event.get("id")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_SOURCE_ID_CHARS:
            raise SendRequestError(
                [
                    Problem(
                        "id",
                        f"must be the event's id, 1 to {MAX_SOURCE_ID_CHARS} characters: it keys the "
                        "idempotency of the event's items",
                    )
                ]
            )
        request = with_default_keys(event.get("detail"), f"event:{event_id}")
        report = self._sender.send_all(self._parse(request), deadline, retry_by=RetryBy.QUEUE)
        _raise_if_token_rejected(report, f"event {event_id}")
        if report.retry_soon:
            self._queue.send([json.dumps(request)])
            logger.info(
                "event's unfinished items handed to the outbound queue", extra={"event_id": event.get("id")}
            )
        return report.response

    def handle_queued(self, body: str, message_id: str, deadline: Deadline) -> None:
        """Raises RedeliveryRequested (or another error) for a record SQS should deliver again."""
        try:
            data = json.loads(body)
        except ValueError:
            logger.error("queued record is not JSON", extra={"sqs_message_id": message_id})
            raise InvalidQueuedRecord(f"record {message_id} is not JSON") from None
        kind = queued_job_kind(data)
        try:
            if kind == REMINDER_JOB:
                self._send_reminder(ReminderJob.model_validate(data), deadline)
            elif kind == FANOUT_JOB:
                self._fanout.resume(FanoutJob.model_validate(data), deadline)
            else:
                self._send_queued_request(with_default_keys(data, f"sqs:{message_id}"), message_id, deadline)
        except (ValidationError, SendRequestError) as exc:
            problems = [str(p) for p in exc.problems] if isinstance(exc, SendRequestError) else [str(exc)]
            logger.error("invalid queued record", extra={"sqs_message_id": message_id, "problems": problems})
            raise InvalidQueuedRecord(f"record {message_id} is not a valid send request or job") from exc

    def run_daily_reminder(self, event: Mapping[str, Any], deadline: Deadline) -> FanoutSummary:
        return self._fanout.start(scheduled_time(event), deadline)

    def _send_queued_request(self, request: Any, message_id: str, deadline: Deadline) -> None:
        report = self._sender.send_all(self._parse(request), deadline, retry_by=RetryBy.QUEUE)
        _raise_if_token_rejected(report, f"record {message_id}")
        if report.retry_soon:
            raise RedeliveryRequested(f"record {message_id} has items to retry")

    def _parse(self, request: object) -> list[OutboundItem]:
        """The request's items; raises SendRequestError for any that breaks the contract, a
        ``phone_number_id`` that is not one of the stack's numbers included."""
        items = parse_send_request(request)
        numbers = self._sender.numbers
        batch = isinstance(request, Mapping) and "messages" in request
        problems = [
            Problem(
                f"messages[{index}].phone_number_id" if batch else "phone_number_id",
                f"must be one of this stack's business numbers: {', '.join(numbers)}",
            )
            for index, item in enumerate(items)
            if item.phone_number_id is not None and item.phone_number_id not in numbers
        ]
        if problems:
            raise SendRequestError(problems)
        return items

    def _send_reminder(self, job: ReminderJob, deadline: Deadline) -> None:
        if is_stale(job, datetime.fromtimestamp(self._clock(), UTC), self._reminders):
            logger.warning("stale reminder not sent", extra={"date": job.date, "wa_id": job.wa_id})
            return
        items = parse_send_request(reminder_request(job, self._reminders))
        report = self._sender.send_all(
            items, deadline, retry_by=RetryBy.QUEUE, marketing=self._reminders.marketing
        )
        _raise_if_token_rejected(report, f"reminder {job.idempotency_key}")
        if report.retry_soon:
            raise RedeliveryRequested(f"reminder {job.idempotency_key} to retry")


def _raise_if_token_rejected(report: SendReport, work: str) -> None:
    if report.token_rejected:
        raise AccessTokenRejected(f"{work} kept for a later retry: Meta refused the access token (190)")
