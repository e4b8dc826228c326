"""Publishing events on the bus: PutEvents in batches of EventBridge's limits, failed entries retried.

PutEvents answers 200 even when some entries fail (``FailedEntryCount``, an ``ErrorCode`` per
entry: throttling, an internal failure): those entries are sent again with backoff, never
dropped. What still fails after the last attempt is returned, so the caller can have its source
records retried (a stream batch item failure) instead of losing them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.core.errors import WaCloudError
from wacloud.events.models import SOURCE, EventDetail

# EventBridge's limits: 10 entries per PutEvents and 256 KB per request, an entry's size being
# its Source, DetailType, Detail and Resources in UTF-8, plus 14 bytes for Time.
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
TIME_BYTES = 14
ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0


class EventTooLargeError(WaCloudError):
    """An event above EventBridge's 256 KB, even without the message object it could shed."""


@dataclass(frozen=True)
class Entry:
    """One PutEvents entry, with the index of the event it publishes."""

    index: int
    request: dict[str, Any]
    size: int


def entry_of(detail: EventDetail, bus_name: str, index: int = 0) -> Entry:
    body = detail.model_dump_json(exclude_none=True)
    request = {
        "Source": SOURCE,
        "DetailType": detail.detail_type,
        "Detail": body,
        "EventBusName": bus_name,
        "Time": datetime.fromtimestamp(detail.timestamp, UTC) if detail.timestamp > 0 else None,
    }
    if request["Time"] is None:
        del request["Time"]
    size = len(SOURCE.encode()) + len(detail.detail_type.encode()) + len(body.encode()) + TIME_BYTES
    if size > MAX_REQUEST_BYTES:
        raise EventTooLargeError(f"{detail.detail_type} {detail.event_id} is {size} bytes, over 256 KB")
    return Entry(index, request, size)


def batches(entries: Sequence[Entry]) -> list[list[Entry]]:
    """Entries in order, grouped into requests within both of PutEvents' limits."""
    grouped: list[list[Entry]] = []
    current: list[Entry] = []
    size = 0
    for entry in entries:
        if current and (len(current) == MAX_ENTRIES or size + entry.size > MAX_REQUEST_BYTES):
            grouped.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry.size
    if current:
        grouped.append(current)
    return grouped


class EventPublisher:
    def __init__(
        self,
        client: Any,
        bus_name: str,
        *,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._bus_name = bus_name
        self._attempts = attempts
        self._sleep = sleep

    def publish(self, details: Sequence[EventDetail]) -> set[int]:
        """Publish every event; the indexes of those that could not be, after every retry."""
        pending = [entry_of(detail, self._bus_name, index) for index, detail in enumerate(details)]
        for attempt in range(self._attempts):
            if not pending:
                return set()
            if attempt:
                ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                self._sleep(random.uniform(ceiling / 2, ceiling))  # noqa: S311 (jitter, not secrecy)
            pending = [entry for batch in batches(pending) for entry in self._put(batch)]
        return {entry.index for entry in pending}

    def _put(self, batch: list[Entry]) -> list[Entry]:
        """The entries of one request that were not published."""
        try:
            answer = self._client.put_events(Entries=[entry.request for entry in batch])
        except (ClientError, BotoCoreError):
            return batch  # the whole request: throttled, or the service did not answer
        if not answer.get("FailedEntryCount"):
            return []
        results = answer.get("Entries", [])
        # Results are in the order of the request's entries; one with an ErrorCode was not published.
        return [
            entry for entry, result in zip(batch, results, strict=False) if result.get("ErrorCode")
        ] + batch[len(results) :]
