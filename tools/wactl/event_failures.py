"""``wactl events failed`` and ``wactl events replay``: table changes the publisher gave up on.

After its retries, Lambda sets a failed stream batch aside on the publisher's OnFailure queue
(``PublisherDeadLetterQueueUrl``) as a failure record: the shard and the first and last sequence
numbers, not the changes themselves. ``failed`` lists those records; ``replay`` reads each range
back from the table's stream, publishes its events with the publisher's own code (the same
``event_id``s, so consumers see at most a repetition) and deletes the record once all were
published. The stream keeps changes for 24 hours: a range older than that cannot be read back
and is reported as expired (its record stays unless ``--drop-expired``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.core.observability import logger
from wacloud.events.publish import EventPublisher
from wacloud.events.stream_batch import publish_stream_batch
from wactl.errors import WactlError, reason
from wactl.held import hold_messages
from wactl.target import OUTPUT_EVENT_BUS, Target

OUTPUT_PUBLISHER_DLQ = "PublisherDeadLetterQueueUrl"
LOCAL_PUBLISHER_DLQ = "whatsapp-cloud-PublisherDeadLetterQueue"
HOLD_SECONDS = 120


class ReplayError(WactlError):
    """The failure records or the stream could not be read."""


@dataclass(frozen=True)
class FailedBatch:
    receipt_handle: str
    stream_arn: str
    shard_id: str
    start: str
    end: str
    size: int
    first_arrival: str
    condition: str

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> FailedBatch:
        record = json.loads(message["Body"])
        info = record.get("DDBStreamBatchInfo") or {}
        return cls(
            receipt_handle=message["ReceiptHandle"],
            stream_arn=str(info.get("streamArn", "")),
            shard_id=str(info.get("shardId", "")),
            start=str(info.get("startSequenceNumber", "")),
            end=str(info.get("endSequenceNumber", "")),
            size=int(info.get("batchSize", 0)),
            first_arrival=str(info.get("approximateArrivalOfFirstRecord", "")),
            condition=str(record.get("requestContext", {}).get("condition", "")),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "shard_id": self.shard_id,
            "start_sequence_number": self.start,
            "end_sequence_number": self.end,
            "records": self.size,
            "first_change_at": self.first_arrival,
            "condition": self.condition,
        }


class FailureQueue:
    """The publisher's OnFailure queue, found once: its failure records held, released, deleted."""

    def __init__(self, target: Target) -> None:
        self._sqs = target.sqs()
        try:
            if target.is_local:
                self._url = str(self._sqs.get_queue_url(QueueName=LOCAL_PUBLISHER_DLQ)["QueueUrl"])
            else:
                self._url = target.resource(OUTPUT_PUBLISHER_DLQ)
        except (BotoCoreError, ClientError) as exc:
            raise ReplayError(f"cannot find the publisher's failed batches ({reason(exc)})") from exc

    def hold(self, limit: int) -> list[FailedBatch]:
        """Up to ``limit`` failure records, held out of sight for a while (release them after)."""
        try:
            messages = hold_messages(self._sqs, self._url, limit, HOLD_SECONDS)
        except (BotoCoreError, ClientError) as exc:
            raise ReplayError(f"cannot read the publisher's failed batches ({reason(exc)})") from exc
        return [FailedBatch.from_message(message) for message in messages]

    def release(self, batches: list[FailedBatch]) -> None:
        for batch in batches:
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=batch.receipt_handle, VisibilityTimeout=0
            )

    def forget(self, batch: FailedBatch) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=batch.receipt_handle)


def stream_records(target: Target, batch: FailedBatch) -> list[dict[str, Any]] | None:
    """The batch's changes as Lambda delivered them; None when the stream no longer has them."""
    streams = target.client("dynamodbstreams")
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.start,
        )["ShardIterator"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in (
            "TrimmedDataAccessException",
            "ResourceNotFoundException",
        ):
            return None
        raise ReplayError(f"cannot read the table's stream ({reason(exc)})") from exc
    except BotoCoreError as exc:
        raise ReplayError(f"cannot read the table's stream ({reason(exc)})") from exc
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in page.get("Records", []):
            change = dict(record["dynamodb"])
            if int(change["SequenceNumber"]) > int(batch.end):
                return records
            created = change.get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                change["ApproximateCreationDateTime"] = created.timestamp()
            records.append({"eventName": record["eventName"], "dynamodb": change})
        if not page.get("Records"):
            break
        iterator = page.get("NextShardIterator")
    return records


def republish(target: Target, records: list[dict[str, Any]]) -> bool:
    """Publish the changes' events as the publisher does; whether every one was published."""
    publisher = EventPublisher(target.client("events"), target.resource(OUTPUT_EVENT_BUS))
    # The publisher's code logs for CloudWatch, on stdout; here stdout is the command's answer.
    with _function_logs_on_stderr():
        answer = publish_stream_batch({"Records": records}, publisher)
    return not answer["batchItemFailures"]


@contextmanager
def _function_logs_on_stderr() -> Iterator[None]:
    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        yield
        return
    previous = handler.setStream(sys.stderr)
    try:
        yield
    finally:
        if previous is not None:
            handler.setStream(previous)
