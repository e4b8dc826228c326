"""What the processor tests share: SQS events as Lambda delivers them, Meta's largest POSTs, and a
table that answers slowly or throttles, as DynamoDB does under load."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from support.aws import table_items
from wacloud.table.client import TableClient
from walocal.events import EVENTS_DIR, load_event
from walocal.provision import LocalStack

WABA_ID = "102290129340398"
METADATA = {"display_phone_number": "15550001234", "phone_number_id": "123456789012345"}


def sqs_event(
    *bodies: bytes | str,
    received_at_ms: int = 1763700100000,
    location: str = "inline",
    receive_count: int = 1,
) -> dict[str, Any]:
    """An SQS event with one record per body, shaped like the sample in events/sqs/."""
    template = load_event("sqs/webhook_message_text.json")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        record["messageId"] = f"00000000-0000-4000-8000-{index:012d}"
        record["body"] = text
        record["md5OfBody"] = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SQS's checksum)
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        record["messageAttributes"]["received_at_ms"]["stringValue"] = str(received_at_ms)
        record["messageAttributes"]["payload_location"]["stringValue"] = location
        records.append(record)
    return {"Records": records}


def fixture_body(name: str) -> bytes:
    return (EVENTS_DIR / "webhooks" / name).read_bytes()


def items_by_key(stack: LocalStack) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["pk"], item["sk"]): item for item in table_items(stack)}


def inbound_item(items: dict[tuple[str, str], dict[str, Any]], wamid: str) -> dict[str, Any]:
    """The inbound message ``wamid`` among ``items`` (by key), in its sender's partition."""
    (found,) = [
        item
        for (pk, sk), item in items.items()
        if pk.startswith("CONTACT#") and sk.startswith("MSG#") and sk.endswith(f"#{wamid}")
    ]
    return found


def has_inbound(items: dict[tuple[str, str], dict[str, Any]], wamid: str) -> bool:
    return any(
        pk.startswith("CONTACT#") and sk.startswith("MSG#") and sk.endswith(f"#{wamid}") for pk, sk in items
    )


STATUS_STEPS = ("sent", "delivered", "read")


def statuses_post(
    count: int,
    *,
    messages: int | None = None,
    tag: str = "A",
    timestamp: int = 1763700000,
    opted_out: bool = False,
) -> str:
    """One POST of ``count`` statuses of ``messages`` messages (as many as statuses by default),
    each to its own recipient. 1,000 statuses of 1,000 messages is Meta's largest POST and the
    costliest to store: one conditional update per message. With ``opted_out``, every status is a
    failure 131050, which also updates each recipient's profile. Otherwise the statuses of one
    message go sent, delivered, read, one second apart."""
    messages = messages or count
    statuses = []
    for index in range(count):
        message, step = index % messages, index // messages
        status: dict[str, Any] = {
            "id": f"wamid.{tag}{message:05d}",
            "status": "failed" if opted_out else STATUS_STEPS[step % 3],
            "timestamp": str(timestamp + step),
            "recipient_id": f"1650{message:07d}",
            "conversation": {"id": f"conv-{message}", "origin": {"type": "marketing"}},
            "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"},
        }
        if opted_out:
            status["errors"] = [{"code": 131050, "title": "Unable to deliver the message."}]
        statuses.append(status)
    value = {"messaging_product": "whatsapp", "metadata": METADATA, "statuses": statuses}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload, separators=(",", ":"))


@contextmanager
def slow_table(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[threading.Event]:
    """Every conditional update of the table takes ``seconds`` longer, as over a slow network.

    Setting the yielded event ends the waits at once; on the way out it is set, and writes still
    running in the processor's threads get a moment to finish while the emulated AWS is there.
    """
    done = threading.Event()
    update = TableClient.update

    def slow_update(self: TableClient, key: Any, **request: Any) -> dict[str, Any]:
        done.wait(seconds)
        return update(self, key, **request)

    monkeypatch.setattr(TableClient, "update", slow_update)
    try:
        yield done
    finally:
        done.set()
        time.sleep(0.3)


class ThrottledBatchWrites:
    """DynamoDB under throttling: the first ``throttled`` BatchWriteItem calls write nothing and
    hand every item back as unprocessed, as DynamoDB does when a partition is over its limit."""

    EVENT = "before-call.dynamodb.BatchWriteItem"

    def __init__(self, throttled: int) -> None:
        self.throttled = throttled
        self.calls = 0
        self._active = False
        self._lock = threading.Lock()

    @contextmanager
    def installed(self, session: boto3.Session) -> Iterator[ThrottledBatchWrites]:
        """For the clients ``session`` creates meanwhile (install before loading the function).

        Clients copy the session's handlers when created, and the tests share one session: on the
        way out the handler is removed, and turned off in the clients that copied it.
        """
        handler: Callable[..., Any] = self._before_call
        session.events.register(self.EVENT, handler)
        self._active = True
        try:
            yield self
        finally:
            self._active = False
            session.events.unregister(self.EVENT, handler)

    def _before_call(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        with self._lock:
            if not self._active:
                return None
            self.calls += 1
            if self.calls > self.throttled:
                return None  # the call goes through
        body = json.loads(params["body"])
        return _NoHttp(), {"UnprocessedItems": body["RequestItems"], "ResponseMetadata": {}}


class _NoHttp:
    status_code = 200


def wait_until(probe: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
