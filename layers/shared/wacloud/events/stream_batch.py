"""A batch of the table's stream, published: every change's events, failures reported by record.

Lambda delivers the stream's records in order and, with ``ReportBatchItemFailures``, retries from
the earliest record reported. So the batch's events are published together and, if any could not
be, the record it came from is reported: that record and those after it come again, and their
events are published again with the same ``event_id`` (consumers deduplicate on it). A record that
cannot be read is reported the same way, after the events of the records before it; bisecting
and the retry limit then set it aside on the OnFailure queue without holding up the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from wacloud.core.metrics import metrics
from wacloud.core.observability import logger
from wacloud.core.sqs_batch import PartialBatchResponse
from wacloud.events.details import detail_of
from wacloud.events.models import EventDetail
from wacloud.events.publish import EventPublisher
from wacloud.table.stream import TableChange, meanings

_DESERIALIZE = TypeDeserializer().deserialize


def table_change(record: Mapping[str, Any]) -> TableChange:
    """A Lambda DynamoDB stream record as the table's change (images as Python values)."""
    change = record["dynamodb"]
    return TableChange(
        name=record["eventName"],
        old=_image(change.get("OldImage")),
        new=_image(change.get("NewImage")),
    )


def publish_stream_batch(event: Mapping[str, Any], publisher: EventPublisher) -> PartialBatchResponse:
    records = event.get("Records", [])
    details: list[EventDetail] = []
    owners: list[int] = []  # the record each event came from
    unreadable: int | None = None
    for position, record in enumerate(records):
        try:
            committed_at = int(float(record["dynamodb"].get("ApproximateCreationDateTime", 0)))
            found = [detail_of(meaning, committed_at) for meaning in meanings(table_change(record))]
        except Exception as exc:
            logger.error(
                "stream record not readable; reported for retry",
                extra={"sequence_number": _sequence(record), "error": type(exc).__name__},
            )
            unreadable = position
            break
        details += found
        owners += [position] * len(found)
    failed = publisher.publish(details)
    retry_from = min(
        [owners[index] for index in failed] + ([unreadable] if unreadable is not None else []), default=None
    )
    for index, detail in enumerate(details):
        if index not in failed:
            metrics.count("EventsPublished", detail_type=detail.detail_type)
    metrics.count("EventsFailed", len(failed))
    if unreadable is not None:
        metrics.count("StreamRecordsUnreadable")
    logger.info(
        "events published",
        extra={"records": len(records), "events": len(details) - len(failed), "failed_events": len(failed)},
    )
    if retry_from is None:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": _sequence(records[retry_from])}]}


def _image(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if image is None else {name: _DESERIALIZE(value) for name, value in image.items()}


def _sequence(record: Mapping[str, Any]) -> str:
    return str(record.get("dynamodb", {}).get("SequenceNumber", ""))
