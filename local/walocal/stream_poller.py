"""Feeds a DynamoDB stream to its function the way Lambda's stream event source mapping does.

Each shard is read in order from the template's ``StartingPosition``; records the template's
``FilterCriteria`` drop are consumed without an invocation. Batches hold up to ``BatchSize``
records, in stream order, shaped as Lambda's DynamoDB event. A shard moves on only past what
succeeded:

- the function answers ``batchItemFailures`` (with ``ReportBatchItemFailures``): the records
  before the first one named are done, the batch is retried from it;
- the function fails (an error, a timeout, a crash): with ``BisectBatchOnFunctionError`` the batch
  is split in two and each half tried on its own (a split is not a retry), else it is retried whole;
- a write that changed nothing is not on the stream (DynamoDB records none; moto does);
- after ``MaximumRetryAttempts`` retries, what is left goes to the ``OnFailure`` destination as
  Lambda sends it (the batch's shard and sequence numbers, not its records) and the shard moves on.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from walocal.filters import keeps
from walocal.lambda_service import FunctionTarget
from walocal.template import StreamSource

log = logging.getLogger("walocal.stream_poller")


@dataclass(frozen=True)
class Outcome:
    """What an invocation left to do: nothing (``retry_from`` None), or the records from an index."""

    retry_from: int | None
    function_error: str | None = None


class StreamPoller:
    def __init__(
        self,
        streams: Any,
        sqs: Any,
        source: StreamSource,
        stream_arn: str,
        function: FunctionTarget,
        *,
        function_arn: str = "",
        on_failure_url: str | None = None,
        region: str = "us-east-1",
        retry_delay: Callable[[int], float] = lambda attempt: min(0.1 * 2**attempt, 2.0),
    ) -> None:
        self._streams = streams
        self._sqs = sqs
        self._source = source
        self._stream_arn = stream_arn
        self._function = function
        self._function_arn = function_arn
        self._on_failure_url = on_failure_url
        self._region = region
        self._retry_delay = retry_delay
        self._iterators: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{source.table}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def poll_once(self) -> int:
        """Read every shard once and deliver what it held; the records handed to the function."""
        delivered = 0
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self._source.starting_position,
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            answer = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            records = [
                self._lambda_record(record)
                for record in answer.get("Records", [])
                if not _changes_nothing(record)
            ]
            kept = [record for record in records if keeps(self._source.filters, record)]
            for start in range(0, len(kept), self._source.batch_size):
                batch = kept[start : start + self._source.batch_size]
                self._deliver(shard_id, batch)
                delivered += len(batch)
        return delivered

    def _deliver(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        retries = 0
        while batch:
            outcome = self._invoke(batch)
            if outcome.retry_from is None:
                return
            if outcome.function_error is not None and self._source.bisect_on_error and len(batch) > 1:
                middle = len(batch) // 2
                self._deliver(shard_id, batch[:middle])
                self._deliver(shard_id, batch[middle:])
                return
            batch = batch[outcome.retry_from :]
            limit = self._source.maximum_retry_attempts
            if limit >= 0 and retries >= limit:
                self._give_up(shard_id, batch, retries + 1, outcome)
                return
            retries += 1
            self._stop.wait(self._retry_delay(retries))

    def _invoke(self, batch: list[dict[str, Any]]) -> Outcome:
        result = self._function.run(json.dumps({"Records": batch}).encode("utf-8"))
        if result.function_error is not None:
            log.error(
                "%s failed (%s) on a batch of %d stream records",
                self._function.name,
                result.error_type,
                len(batch),
            )
            return Outcome(0, result.function_error)
        if not self._source.report_batch_item_failures:
            return Outcome(None)
        answer = result.json()
        failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
        if not failures:
            return Outcome(None)
        sequence = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
        named = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
        if any(identifier not in sequence for identifier in named):
            # As on Lambda: an answer naming a record not in the batch fails the whole batch.
            log.error("%s: batchItemFailures names a record not in the batch", self._function.name)
            return Outcome(0, "InvalidBatchItemFailures")
        return Outcome(min(sequence[str(identifier)] for identifier in named))

    def _give_up(
        self, shard_id: str, batch: list[dict[str, Any]], invocations: int, outcome: Outcome
    ) -> None:
        log.error(
            "%s: %d stream records given up after %d invocations%s",
            self._function.name,
            len(batch),
            invocations,
            "" if self._on_failure_url else " (no OnFailure destination: they are lost)",
        )
        if self._on_failure_url is None:
            return
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": outcome.function_error or "",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso(last["ApproximateCreationDateTime"]),
                "batchSize": len(batch),
                "streamArn": self._stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self._on_failure_url, MessageBody=json.dumps(record))

    def _lambda_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record.get("eventID") or uuid.uuid4().hex,
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": change,
            "eventSourceARN": self._stream_arn,
        }

    def _run(self) -> None:
        # Between reads the stream gathers changes for the template's batching window, as Lambda
        # waits up to MaximumBatchingWindowInSeconds to fill a batch: one invocation for many
        # changes, not one each.
        pause = max(0.25, float(self._source.batching_window_seconds))
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("reading the stream of %s failed", self._source.table)
            self._stop.wait(pause)


def _changes_nothing(record: Mapping[str, Any]) -> bool:
    """A write that left the item as it was: DynamoDB's stream has no record of it, moto's has."""
    change = record.get("dynamodb", {})
    return (
        record.get("eventName") == "MODIFY"
        and "OldImage" in change
        and change.get("OldImage") == change.get("NewImage")
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
