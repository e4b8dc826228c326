"""Reading a dead-letter queue without consuming it: messages received are held out of sight for a
while, then released (or deleted once dealt with), so a listing leaves the queue as it was."""

from __future__ import annotations

from typing import Any


def hold_messages(sqs: Any, queue_url: str, limit: int, hold_seconds: int) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of the queue, each hidden for ``hold_seconds`` (botocore's errors
    are the caller's to word)."""
    found: list[dict[str, Any]] = []
    while len(found) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, limit - len(found)),
            VisibilityTimeout=hold_seconds,
            WaitTimeSeconds=1,
        ).get("Messages", [])
        if not messages:
            break
        found += [dict(message) for message in messages]
    return found
