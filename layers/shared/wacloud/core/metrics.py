"""The functions' metrics, written as CloudWatch embedded metric format (EMF) lines in their logs.

CloudWatch Logs turns each EMF line into metric data points: no PutMetricData call, no IAM
permission, no latency on the request. Counts are gathered in memory during an invocation and
written at its end, one line per set of dimensions: an EMF line gives all its metrics the same
dimension values, and a few lines per invocation cost less than one per count. Powertools Metrics
serializes each line (its validation of names, units and the EMF schema included); it loads with
Powertools' logger, so the webhook's cold path pays nothing for it and still reaches no pydantic.

Dimensions are few on purpose: each distinct combination is a custom metric billed by the month.
Every metric carries ``service`` (the stack's name, ``POWERTOOLS_SERVICE_NAME``) so that two
stacks in one account keep theirs apart; a few carry one more dimension with a bounded set of
values (a message type, a status, a Meta error code).

The lines go where the logger writes (its handler's stream: stdout on Lambda, which CloudWatch
Logs collects), under the handler's lock so that they never interleave with a log line.

Metrics never fail a request: a count or a flush that goes wrong is logged and dropped.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from wacloud.core.observability import logger

NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
DEFAULT_NAMESPACE = "WhatsAppCloud"
DEFAULT_SERVICE = "whatsapp-cloud"
COUNT = "Count"
MILLISECONDS = "Milliseconds"
# A dimension value past this is cut: CloudWatch takes up to 1,024 characters, but a value that
# long is a bug upstream (dimensions hold types, statuses and codes).
MAX_DIMENSION_CHARS = 64
# Distinct sets of metrics and dimensions whose schema is kept (they are few: bounded dimensions).
_MAX_SCHEMAS = 256

F = TypeVar("F", bound=Callable[..., Any])
Dimensions = tuple[tuple[str, str], ...]


class Metrics:
    """Counts and timings of one invocation, by name and dimensions, until :meth:`flush`.

    Thread-safe: the processor's writes and the sender's batch records run on threads.
    """

    def __init__(
        self,
        namespace: str | None = None,
        service: str | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self._namespace = namespace
        self._service = service
        self._stream = stream
        self._lock = threading.Lock()
        # {dimensions: {name: (unit, values)}}
        self._pending: dict[Dimensions, dict[str, tuple[str, list[float]]]] = {}
        # Built once per namespace and service: its constructor costs more than a whole flush.
        self._providers: dict[tuple[str, str], AmazonCloudWatchEMFProvider] = {}
        # The EMF schema of each set of metrics and dimensions written so far.
        self._schemas: dict[tuple[str, str, Dimensions, tuple[tuple[str, str], ...]], Any] = {}

    @property
    def namespace(self) -> str:
        # Read at the first write, not at import: the environment is the function's by then, and
        # stays so for the life of the process.
        if self._namespace is None:
            self._namespace = os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
        return self._namespace

    @property
    def service(self) -> str:
        if self._service is None:
            self._service = os.environ.get(SERVICE_ENV) or DEFAULT_SERVICE
        return self._service

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        """Add ``value`` to the count ``name`` with these dimensions (summed within the invocation)."""
        try:
            if value:
                self._add(name, COUNT, value, dimensions, summed=True)
        except Exception as exc:  # a metric is never worth a failed request
            logger.warning("metric not recorded", extra={"metric": name, "error": type(exc).__name__})

    def timing(self, name: str, milliseconds: float, **dimensions: str) -> None:
        """One duration (each kept: CloudWatch gives their percentiles)."""
        try:
            self._add(name, MILLISECONDS, milliseconds, dimensions, summed=False)
        except Exception as exc:
            logger.warning("metric not recorded", extra={"metric": name, "error": type(exc).__name__})

    def _add(self, name: str, unit: str, value: float, dimensions: dict[str, str], *, summed: bool) -> None:
        key = tuple(sorted((k, str(v)[:MAX_DIMENSION_CHARS] or "none") for k, v in dimensions.items()))
        amount = float(value)
        with self._lock:
            group = self._pending.setdefault(key, {})
            _, values = group.setdefault(name, (unit, []))
            if summed and values:
                values[0] += amount
            else:
                values.append(amount)

    def lines(self) -> list[str]:
        """The pending metrics as EMF lines, and forget them."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return []
        namespace, service = self.namespace, self.service
        provider = self._providers.get((namespace, service))
        if provider is None:
            provider = AmazonCloudWatchEMFProvider(namespace=namespace, service=service)
            self._providers[(namespace, service)] = provider
        found = []
        for dimensions, metrics in pending.items():
            values = {
                name: amounts[0] if len(amounts) == 1 else amounts for name, (_, amounts) in metrics.items()
            }
            signature = (
                namespace,
                service,
                dimensions,
                tuple((name, unit) for name, (unit, _) in metrics.items()),
            )
            schema = self._schemas.get(signature)
            if schema is None:
                # Powertools validates the names, units and dimensions, and writes the EMF schema.
                serialized = provider.serialize_metric_set(
                    metrics={
                        name: {"Unit": metrics[name][0], "Value": value} for name, value in values.items()
                    },
                    dimensions={"service": service, **dict(dimensions)},
                    metadata={},
                )
                schema = serialized["_aws"]["CloudWatchMetrics"]
                if len(self._schemas) >= _MAX_SCHEMAS:
                    self._schemas.clear()
                self._schemas[signature] = schema
            # The same metrics with the same dimensions have the same schema: only the time and
            # the values change, so later lines skip the serializer (most of a flush's CPU).
            line = {
                "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": schema},
                "service": service,
                **dict(dimensions),
                **values,
            }
            found.append(json.dumps(line, separators=(",", ":")))
        return found

    def flush(self) -> None:
        """Write the pending metrics to the log; never raises."""
        try:
            lines = self.lines()
            if not lines:
                return
            handler = logger.registered_handler
            stream: TextIO = self._stream or getattr(handler, "stream", None) or sys.stdout
            # One write: Lambda takes each line of stdout as a log event.
            handler.acquire()
            try:
                stream.write("\n".join(lines) + "\n")
                stream.flush()
            finally:
                handler.release()
        except Exception as exc:
            logger.warning("metrics not written", extra={"error": type(exc).__name__})

    def published(self, handler: F) -> F:
        """Decorate a Lambda handler: whatever it counted is written when it returns or raises."""

        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            finally:
                self.flush()

        return wrapper  # type: ignore[return-value]


# The functions' one instance (namespace and service from the template's Globals).
metrics = Metrics()
