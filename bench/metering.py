"""What AWS bills, counted from the calls a boto3 session's clients make (botocore event hooks).

Per service and operation: requests; for SQS, the requests as billed (each 64 KB chunk of a
payload is one request); for DynamoDB, items written and, through :class:`CapacityMeter`, write
and read units by DynamoDB's size rules (moto reports no consumed capacity). Install the meter
before the clients are created: a client copies its session's handlers when it is made.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench.capacity import CapacityMeter
from bench.prices import SQS_CHUNK_BYTES


@dataclass
class Counts:
    """Billed quantities of the calls made while the meter was installed."""

    requests: Counter[str] = field(default_factory=Counter)
    """Calls by ``service.Operation`` (``sqs.SendMessage``), failed ones included."""
    sqs_billed_requests: int = 0
    dynamodb_items_written: int = 0
    write_units: float = 0.0
    read_units: float = 0.0

    def of_service(self, service: str) -> int:
        return sum(count for name, count in self.requests.items() if name.partition(".")[0] == service)


def sqs_chunks(payload_bytes: int) -> int:
    """Billed requests of one SQS call moving that payload: one per 64 KB started, at least one."""
    return max(1, math.ceil(payload_bytes / SQS_CHUNK_BYTES))


def sqs_message_bytes(body: str, attributes: Mapping[str, Mapping[str, Any]] | None = None) -> int:
    """A message's billed payload: its body and each attribute's name, type and value."""
    size = len(body.encode("utf-8"))
    for name, attribute in (attributes or {}).items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or b""
        value_bytes = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
        size += len(name.encode("utf-8")) + len(str(attribute.get("DataType", "")).encode()) + value_bytes
    return size


def sqs_billed(operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> int:
    """Billed requests of one SQS call: a batch's entries share their chunks."""
    if operation == "SendMessage":
        return sqs_chunks(sqs_message_bytes(params.get("MessageBody", ""), params.get("MessageAttributes")))
    if operation == "SendMessageBatch":
        entries = params.get("Entries", [])
        return sqs_chunks(
            sum(sqs_message_bytes(e.get("MessageBody", ""), e.get("MessageAttributes")) for e in entries)
        )
    if operation == "ReceiveMessage":
        messages = parsed.get("Messages", [])
        return sqs_chunks(
            sum(sqs_message_bytes(m.get("Body", ""), m.get("MessageAttributes")) for m in messages)
        )
    return 1


class Meter:
    """Counts the calls of a session's clients; with a table, DynamoDB's units too."""

    def __init__(self, table_name: str | None = None, reader: Any | None = None) -> None:
        self.capacity = CapacityMeter(table_name, reader) if table_name else None
        self.counts = Counts()

    @contextmanager
    def installed(self, session: boto3.Session) -> Iterator[Meter]:
        with ExitStack() as stack:
            if self.capacity is not None:
                stack.enter_context(self.capacity.installed(session))
            session.events.register("before-parameter-build", self._params)
            session.events.register("after-call", self._after)
            try:
                yield self
            finally:
                session.events.unregister("before-parameter-build", self._params)
                session.events.unregister("after-call", self._after)

    def reset(self) -> Counts:
        """What was counted since the last reset."""
        counts, self.counts = self.counts, Counts()
        if self.capacity is not None:
            usage = self.capacity.reset()
            counts.write_units = usage.total_write_units
            counts.read_units = usage.read_units
        return counts

    def _params(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["metered_params"] = dict(params)

    def _after(self, model: Any, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        params = context.pop("metered_params", {})
        self.counts.requests[f"{service}.{model.name}"] += 1
        if service == "sqs":
            self.counts.sqs_billed_requests += sqs_billed(model.name, params, parsed)
        elif service == "dynamodb" and not (parsed.get("Error") or {}).get("Code"):
            if model.name in ("PutItem", "UpdateItem", "DeleteItem"):
                self.counts.dynamodb_items_written += 1
            elif model.name == "BatchWriteItem":
                written = sum(len(entries) for entries in params.get("RequestItems", {}).values())
                left = sum(len(entries) for entries in (parsed.get("UnprocessedItems") or {}).values())
                self.counts.dynamodb_items_written += written - left
