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
from typing import Any, TypedDict

from wacloud.core.observability import logger


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


RecordHandler = Callable[[dict[str, Any]], object]


def process_sqs_batch(event: Mapping[str, Any], record_handler: RecordHandler) -> PartialBatchResponse:
    """Run ``record_handler`` on each record of Lambda's SQS ``event``, in order.

    A record whose handler raises is reported in ``batchItemFailures`` by its message id, and the
    next record is handled: SQS then deletes the others and delivers the failed ones again.
    """
    failures: list[BatchItemFailure] = []
    for record in event["Records"]:
        try:
            record_handler(record)
        except Exception as exc:
            # The type only: the handlers log their failures with what is safe to say about them.
            logger.warning(
                "SQS record failed; SQS delivers it again",
                extra={"sqs_message_id": record.get("messageId"), "error": type(exc).__name__},
            )
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
