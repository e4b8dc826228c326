"""The local Lambda service: every function of the template with its own instances.

Synchronous invocations wait for their result. Asynchronous ones (``Event``, schedules) are
retried as Lambda retries them, up to the function's ``EventInvokeConfig.MaximumRetryAttempts``,
and then go to its ``OnFailure`` destination (``OnSuccess`` when they succeed), as Lambda's
invocation records.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from walocal.instances import FunctionPool, Invocation, InvokeResult
from walocal.sandbox import LogSink, SandboxConfig, StreamSink
from walocal.template import EventInvokeConfig

log = logging.getLogger("walocal.lambda")

# Lambda waits about 1 then 2 minutes between the attempts of a failed asynchronous invocation;
# locally the waits are seconds, so that a failure reaches its destination while one watches.
ASYNC_RETRY_DELAYS_S = (1.0, 2.0)

Destination = Callable[[str, dict[str, Any]], None]  # (destination ARN, invocation record)


class FunctionTarget(Protocol):
    """What the event sources (HTTP API, Invoke API, pollers, schedules) invoke."""

    @property
    def name(self) -> str: ...

    def run(self, payload: bytes, *, request_id: str | None = None) -> InvokeResult:
        """A synchronous invocation: the result, or the function's error payload."""

    def run_async(self, payload: bytes, *, request_id: str | None = None) -> str:
        """An asynchronous invocation; returns its request id at once."""


@dataclass(frozen=True)
class FunctionSetup:
    """A function as the service runs it: its sandbox and what happens to asynchronous events."""

    sandbox: SandboxConfig
    event_invoke: EventInvokeConfig = field(default_factory=EventInvokeConfig)
    on_success: str | None = None  # resolved destination ARNs
    on_failure: str | None = None


class LambdaService:
    """Functions by name, each served by its own pool of instances."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSetup],
        *,
        log_sink: LogSink | None = None,
        deliver: Destination | None = None,
        retry_delays: Sequence[float] = ASYNC_RETRY_DELAYS_S,
    ) -> None:
        sink = log_sink or StreamSink()
        self.setups = dict(functions)
        self.pools = {name: FunctionPool(setup.sandbox, sink) for name, setup in functions.items()}
        self._deliver = deliver
        self._retry_delays = tuple(retry_delays) or (0.0,)
        self._stopped = threading.Event()

    def __contains__(self, name: object) -> bool:
        return name in self.pools

    @property
    def names(self) -> list[str]:
        return list(self.pools)

    def invoke(self, name: str, payload: bytes, *, request_id: str | None = None) -> InvokeResult:
        """A synchronous invocation (RequestResponse): waits for the function's result."""
        return self.pools[name].invoke(payload, request_id=request_id)

    def submit(self, name: str, payload: bytes, *, request_id: str | None = None) -> Invocation:
        """Start a synchronous invocation; ``wait()`` on the returned invocation for its result."""
        return self.pools[name].submit(payload, request_id=request_id)

    def invoke_async(self, name: str, payload: bytes, *, request_id: str | None = None) -> str:
        """An asynchronous invocation (Event): queued, retried, then sent to its destination."""
        request_id = request_id or str(uuid.uuid4())
        thread = threading.Thread(
            target=self._run_async, args=(name, payload, request_id), name=f"async-{name}-{request_id[:8]}"
        )
        thread.daemon = True
        thread.start()
        return request_id

    def prewarm(self, wait: float = 0.0) -> None:
        """Cold-start one instance of every function (in parallel): init errors show at once.

        Waits up to ``wait`` seconds for the inits to end; an instance whose init failed is gone
        and the next invocation starts another.
        """
        for pool in self.pools.values():
            pool.prewarm()
        deadline = time.monotonic() + wait
        for pool in self.pools.values():
            pool.wait_initialized(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self._stopped.set()
        for pool in self.pools.values():
            pool.close()

    def _run_async(self, name: str, payload: bytes, request_id: str) -> None:
        setup = self.setups[name]
        config = setup.event_invoke
        received = time.monotonic()
        attempts = 0
        condition = "RetriesExhausted"
        result: InvokeResult | None = None
        while not self._stopped.is_set():
            attempts += 1
            result = self.pools[name].invoke(payload, request_id=request_id)
            if result.function_error is None:
                if setup.on_success:
                    self._send(
                        setup.on_success, name, payload, result, attempts=attempts, condition="Success"
                    )
                return
            if attempts > config.maximum_retry_attempts:
                break
            delay = self._retry_delays[min(attempts, len(self._retry_delays)) - 1]
            if time.monotonic() + delay - received > config.maximum_event_age_seconds:
                condition = "EventAgeExceeded"
                break
            log.warning(
                "%s: asynchronous invocation %s failed (%s); retry %d of %d in %.0f s",
                name,
                request_id,
                result.error_type,
                attempts,
                config.maximum_retry_attempts,
                delay,
            )
            if self._stopped.wait(delay):
                return
        if result is None or self._stopped.is_set():
            return
        if setup.on_failure:
            self._send(setup.on_failure, name, payload, result, attempts=attempts, condition=condition)
        else:
            log.error(
                "%s: asynchronous invocation %s failed %d times (%s) and has no OnFailure destination; "
                "the event is dropped",
                name,
                request_id,
                attempts,
                result.error_type,
            )

    def _send(
        self,
        destination: str,
        name: str,
        payload: bytes,
        result: InvokeResult,
        *,
        attempts: int,
        condition: str,
    ) -> None:
        record = invocation_record(self.setups[name].sandbox.arn, payload, result, attempts, condition)
        if self._deliver is None:
            log.warning("%s: no destination delivery configured; %s dropped", name, destination)
            return
        try:
            self._deliver(destination, record)
        except Exception:
            log.exception("%s: could not deliver the invocation record to %s", name, destination)
        else:
            log.info("%s: invocation %s (%s) sent to %s", name, result.request_id, condition, destination)


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return payload.decode("utf-8", "replace")


def invocation_record(
    function_arn: str, payload: bytes, result: InvokeResult, attempts: int, condition: str
) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's destination."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if result.function_error is not None:
        response_context["functionError"] = result.function_error
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": result.request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _json_or_text(payload),
        "responseContext": response_context,
        "responsePayload": _json_or_text(result.payload),
    }


@dataclass(frozen=True)
class PooledFunction:
    """A function of the service, as the event sources invoke it."""

    service: LambdaService
    name: str

    def run(self, payload: bytes, *, request_id: str | None = None) -> InvokeResult:
        return self.service.invoke(self.name, payload, request_id=request_id)

    def run_async(self, payload: bytes, *, request_id: str | None = None) -> str:
        return self.service.invoke_async(self.name, payload, request_id=request_id)
