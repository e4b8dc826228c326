"""Feeds a queue to its function the way Lambda's SQS event source mapping does.

Batches of up to the template's ``BatchSize``, real SQS event records, up to the function's
concurrency of batches in flight at once, deletion of what succeeded, and nothing else: a batch
whose invocation fails (an error, a timeout, a crash) stays on the queue whole, failed records
reappear after the visibility timeout, and after ``maxReceiveCount`` receives SQS moves them to the
dead-letter queue. With ``ReportBatchItemFailures`` only the records the function names stay; an
answer naming a record that is not in the batch fails the whole batch, as on Lambda.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from walocal.events import sqs_record
from walocal.lambda_service import FunctionTarget
from walocal.template import QueueSource

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("walocal.poller")


class QueuePoller:
    def __init__(
        self,
        sqs: SQSClient,
        source: QueueSource,
        queue_url: str,
        queue_arn: str,
        function: FunctionTarget,
        *,
        concurrency: int = 1,
    ) -> None:
        self._sqs = sqs
        self._source = source
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._function = function
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{source.queue}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Receive one batch, invoke the function, delete what succeeded; returns the batch size."""
        messages = self._receive(wait_seconds)
        if messages:
            self._process(messages)
        return len(messages)

    def _receive(self, wait_seconds: int) -> list[MessageTypeDef]:
        return self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(self._source.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _process(self, messages: list[MessageTypeDef]) -> None:
        records = [sqs_record(message, self._queue_arn) for message in messages]
        result = self._function.run(json.dumps({"Records": records}).encode("utf-8"))
        if result.function_error is not None:
            log.error(
                "%s failed (%s): the whole batch of %d stays on the queue",
                self._function.name,
                result.error_type,
                len(messages),
            )
            return
        failed: set[str] = set()
        if self._source.report_batch_item_failures:
            try:
                failed = _failed_ids(result.json(), {m["MessageId"] for m in messages})
            except ValueError as exc:
                log.error("%s: %s; the whole batch stays on the queue", self._function.name, exc)
                return
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

    def _run(self) -> None:
        """Receive while a slot is free; each batch runs on its own thread and frees its slot."""
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                messages = self._receive(wait_seconds=1)
            except Exception:
                self._slots.release()
                log.exception("polling %s failed", self._source.queue)
                self._stop.wait(1)
                continue
            if not messages:
                self._slots.release()
                continue
            worker = threading.Thread(
                target=self._process_in_slot, args=(messages,), name=f"batch-{self._source.queue}"
            )
            worker.daemon = True
            worker.start()

    def _process_in_slot(self, messages: list[MessageTypeDef]) -> None:
        try:
            self._process(messages)
        except Exception:
            log.exception("a batch of %s failed", self._source.queue)
        finally:
            self._slots.release()


def _failed_ids(result: Any, batch: set[str]) -> set[str]:
    """The records a ReportBatchItemFailures answer names; ValueError when it names a stranger."""
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    failed = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or str(identifier) not in batch:
            raise ValueError(f"batchItemFailures names {identifier!r}, which is not in the batch")
        failed.add(str(identifier))
    return failed
