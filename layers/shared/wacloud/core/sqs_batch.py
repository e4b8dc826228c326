"""Partial batch responses for SQS event sources: each failed record is reported, none raises.

Powertools' ``BatchProcessor`` does the same, but importing it (and the data classes it wraps
every record in) costs the processor and the sender tens of milliseconds of each cold start, for
a loop of a few lines. The functions need only its SQS behaviour with
``raise_on_entire_batch_failure=False``: a batch in which every record failed is reported as such
rather than failing the invocation, so SQS redelivers each record alone and no error looks like
a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict

from wacloud.core.observability import logger


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


RecordHandler = Callable[[dict[str, Any]], object]


def process_sqs_batch(
    event: Mapping[str, Any], record_handler: RecordHandler, *, concurrency: int = 1
) -> PartialBatchResponse:
    """Run ``record_handler`` on each record of Lambda's SQS ``event``.

    A record whose handler raises is reported in ``batchItemFailures`` by its message id, and the
    next record is handled: SQS then deletes the others and delivers the failed ones again. With
    ``concurrency`` above 1, up to that many records are handled at once (records that mostly wait
    on another service, such as the sender's on Meta); failures are still reported in the batch's
    order.
    """
    records = list(event["Records"])
    if concurrency <= 1 or len(records) <= 1:
        outcomes = [_handled(record, record_handler) for record in records]
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(records))) as pool:
            outcomes = list(pool.map(lambda record: _handled(record, record_handler), records))
    return {"batchItemFailures": [failure for failure in outcomes if failure is not None]}


def _handled(record: dict[str, Any], record_handler: RecordHandler) -> BatchItemFailure | None:
    try:
        record_handler(record)
    except Exception as exc:
        # The type only: the handlers log their failures with what is safe to say about them.
        logger.warning(
            "SQS record failed; SQS delivers it again",
            extra={"sqs_message_id": record.get("messageId"), "error": type(exc).__name__},
        )
        return {"itemIdentifier": record["messageId"]}
    return None
