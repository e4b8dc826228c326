"""The outbound queue: send requests and reminder jobs for the sender, written in batches of ten."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.core.errors import WaCloudError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

SQS_BATCH_SIZE = 10


class OutboundEnqueueError(WaCloudError):
    """Jobs could not be put on the outbound queue; the caller's retry puts them again."""

    retryable = True


class OutboundQueue:
    def __init__(self, sqs: SQSClient, queue_url: str, workers: int = 8, attempts: int = 3) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._workers = workers
        self._attempts = attempts

    def send(self, bodies: Sequence[str]) -> int:
        """Enqueue every body; how many. Raises OutboundEnqueueError when some could not be.

        ``SendMessageBatch`` calls run in parallel (boto3 clients are thread-safe): one call takes
        tens of milliseconds, and a daily run of 100,000 reminders makes 10,000 of them.
        """
        chunks = [bodies[start : start + SQS_BATCH_SIZE] for start in range(0, len(bodies), SQS_BATCH_SIZE)]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._send_batch(chunk)
            return len(bodies)
        with ThreadPoolExecutor(max_workers=min(self._workers, len(chunks))) as pool:
            # list(): re-raises the first failure of any batch here.
            list(pool.map(self._send_batch, chunks))
        return len(bodies)

    def _send_batch(self, chunk: Sequence[str]) -> None:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": body} for index, body in enumerate(chunk)
        ]
        for _ in range(self._attempts):
            try:
                answer = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise OutboundEnqueueError(f"cannot enqueue outbound jobs ({type(exc).__name__})") from exc
            failed = answer.get("Failed", [])
            if not failed:
                return
            if any(failure.get("SenderFault") for failure in failed):
                codes = sorted({failure.get("Code", "") for failure in failed})
                raise OutboundEnqueueError(f"the outbound queue refused jobs: {', '.join(codes)}")
            # Entries failed on the service's side: send just those again.
            retry = {failure["Id"] for failure in failed}
            entries = [entry for entry in entries if entry["Id"] in retry]
        raise OutboundEnqueueError(f"{len(entries)} outbound jobs could not be enqueued")
