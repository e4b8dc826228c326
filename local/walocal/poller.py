"""Feeds a queue to its function the way Lambda's SQS event source mapping does.

Batches of up to the template's ``BatchSize``, real SQS event records, deletion of what
succeeded, and nothing else: failed records stay on the queue, reappear after the visibility
timeout, and after ``maxReceiveCount`` receives SQS moves them to the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from walocal.events import sqs_record
from walocal.functions import LocalFunction
from walocal.template import QueueSource

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("walocal.poller")


class QueuePoller:
    def __init__(
        self, sqs: SQSClient, source: QueueSource, queue_url: str, queue_arn: str, function: LocalFunction
    ) -> None:
        self._sqs = sqs
        self._source = source
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._function = function
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{source.queue}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Receive one batch, invoke the function, delete what succeeded; returns the batch size."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(self._source.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        records = [sqs_record(message, self._queue_arn) for message in messages]
        try:
            result = self._function.invoke({"Records": records})
        except Exception:
            log.exception("%s raised: the whole batch stays on the queue", self._function.name)
            return len(messages)
        failed = _failed_ids(result) if self._source.report_batch_item_failures else set()
        done = [m for m in messages if m["MessageId"] not in failed]
        if failed:
            log.warning("%d of %d records failed and will be redelivered", len(failed), len(messages))
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling %s failed", self._source.queue)
                self._stop.wait(1)


def _failed_ids(result: Any) -> set[str]:
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    return {str(item.get("itemIdentifier")) for item in failures if isinstance(item, dict)}
