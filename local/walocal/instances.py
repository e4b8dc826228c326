"""A function's instances: up to N sandboxes that start on demand, stay warm and are replaced.

An invocation waits in the function's queue; an idle instance (one blocked in GET /next) takes it.
When more invocations wait than instances are idle or starting, a new instance starts, up to the
function's concurrency. A monitor thread enforces the timeout and the memory size by killing the
worker; the invocation fails as Lambda reports it, and the next one gets a fresh instance.
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from walocal.lambda_api import MAX_RESPONSE_BYTES, NextInvocation, RuntimeApiError, RuntimeApiServer
from walocal.sandbox import LogSink, Sandbox, SandboxConfig

log = logging.getLogger("walocal.lambda")

INIT_TIMEOUT_S = 10.0  # Lambda's limit for the init phase of an on-demand instance
MONITOR_INTERVAL_S = 0.05
INIT_ERROR_GRACE_S = 1.0  # after POST /init/error the runtime should exit by itself
UNHANDLED = "Unhandled"  # X-Amz-Function-Error, for every kind of function error
MAX_LOG_LINES = 1000  # kept per invocation, for LogType: Tail


@dataclass(frozen=True)
class InvokeResult:
    """What an invocation returned: the payload, or the error payload when function_error is set."""

    request_id: str
    payload: bytes
    function_error: str | None = None
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # set on a cold start
    logs: tuple[str, ...] = ()

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None

    @property
    def error_type(self) -> str | None:
        if self.function_error is None:
            return None
        try:
            body = self.json()
        except ValueError:
            return None
        return body.get("errorType") if isinstance(body, dict) else None


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


@dataclass
class Invocation:
    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_context: str | None = None
    trace_id: str = field(default_factory=_trace_id)
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LOG_LINES))
    started_at: float | None = None
    init_duration_ms: float | None = None
    result: InvokeResult | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def complete(self, payload: bytes, function_error: str | None) -> bool:
        """Set the result once; a later attempt (a kill racing a response) is ignored."""
        if self._done.is_set():
            return False
        duration = 0.0 if self.started_at is None else (time.monotonic() - self.started_at) * 1000
        self.result = InvokeResult(
            self.request_id, payload, function_error, duration, self.init_duration_ms, tuple(self.logs)
        )
        self._done.set()
        return True

    def wait(self, timeout: float | None = None) -> InvokeResult:
        if not self._done.wait(timeout):
            raise TimeoutError(f"invocation {self.request_id} still running")
        assert self.result is not None
        return self.result


class State(enum.Enum):
    STARTING = "starting"  # process started, init running, not yet polling
    IDLE = "idle"  # blocked in GET /next
    BUSY = "busy"  # running an invocation
    FINISHING = "finishing"  # response posted, about to poll again: counts as available
    DEAD = "dead"


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def timeout_message(request_id: str, timeout_s: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"


def exit_description(code: int) -> str:
    """Lambda's wording for how the runtime process ended."""
    if code < 0:
        try:
            name = signal.Signals(-code).name.removeprefix("SIG").lower()
        except ValueError:
            name = str(-code)
        return f"Runtime exited with error: signal: {'killed' if name == 'kill' else name}"
    return f"Runtime exited with error: exit status {code}"


class _Instance:
    """A sandbox, its Runtime API server and its scheduling state (guarded by the pool's lock)."""

    def __init__(self, pool: FunctionPool, number: int) -> None:
        self.pool = pool
        self.name = f"{number:03d}"
        self.state = State.STARTING
        self.invocation: Invocation | None = None
        self.deadline = 0.0
        self.init_error_body: bytes | None = None
        self.init_error_at = 0.0
        self.init_duration_ms: float | None = None
        self.kill_reason: str | None = None  # timeout, memory, init-timeout, init-error, shutdown
        self.server = RuntimeApiServer(self)
        self.sandbox = Sandbox(pool.config, self.name, self.server.address, pool.log_sink, self._on_line)

    # The Runtime API backend (called on the server's threads)
    def next_invocation(self) -> NextInvocation | None:
        return self.pool._next_invocation(self)

    def invocation_response(self, request_id: str, body: bytes, content_type: str) -> None:
        if len(body) > MAX_RESPONSE_BYTES:
            message = (
                f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_BYTES} bytes)."
            )
            self.pool._finish(self, request_id, error_payload("Function.ResponseSizeTooLarge", message), True)
            raise RuntimeApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestEntityTooLarge", message)
        self.pool._finish(self, request_id, body, False)

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        # awslambdaric puts the errorType in the body, which the caller gets as it is.
        self.pool._finish(self, request_id, body, True)

    def init_error(self, body: bytes, error_type: str | None) -> None:
        self.pool._init_error(self, body)

    def _on_line(self, text: str) -> None:
        invocation = self.invocation
        if invocation is not None:
            invocation.logs.append(text)

    def start(self) -> None:
        self.server.start()
        self.sandbox.start()
        reaper = threading.Thread(target=self._reap, name=f"{self.pool.config.name}-{self.name}-reaper")
        reaper.daemon = True
        reaper.start()

    def _reap(self) -> None:
        code = self.sandbox.wait()
        self.pool._instance_exited(self, code)
        self.server.stop()
        shutil.rmtree(self.sandbox.scratch_dir, ignore_errors=True)


class FunctionPool:
    """Runs one function's invocations on up to ``config.concurrency`` warm worker processes."""

    def __init__(self, config: SandboxConfig, log_sink: LogSink) -> None:
        self.config = config
        self.log_sink = log_sink
        self._cond = threading.Condition()
        self._pending: deque[Invocation] = deque()
        self._instances: list[_Instance] = []
        self._count = 0
        self._closed = False
        self._monitor = threading.Thread(target=self._watch, name=f"{config.name}-monitor")
        self._monitor.daemon = True
        self._monitor.start()

    @property
    def name(self) -> str:
        return self.config.name

    def submit(
        self, payload: bytes, *, request_id: str | None = None, client_context: str | None = None
    ) -> Invocation:
        """Queue an invocation; ``wait()`` on it for the result."""
        invocation = Invocation(payload, request_id or str(uuid.uuid4()), client_context)
        with self._cond:
            if self._closed:
                invocation.complete(
                    error_payload("ServiceShutdown", "The local runtime is shutting down"), UNHANDLED
                )
                return invocation
            self._pending.append(invocation)
            to_start = self._scale_locked()
            self._cond.notify_all()
        self._start_instances(to_start)
        return invocation

    def invoke(self, payload: bytes, *, request_id: str | None = None) -> InvokeResult:
        return self.submit(payload, request_id=request_id).wait()

    def prewarm(self) -> None:
        """Start one instance now (if none runs), so that an init error shows in the log at once."""
        with self._cond:
            if self._closed or self._instances:
                return
            self._count += 1
            instance = _Instance(self, self._count)
            self._instances.append(instance)
        self._start_instances([instance])

    def wait_initialized(self, timeout: float) -> bool:
        """Wait until no instance is in its init phase (each is warm, or gone); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(instance.state is State.STARTING for instance in self._instances):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    def stats(self) -> dict[str, int]:
        with self._cond:
            counts = {state.value: 0 for state in State}
            for instance in self._instances:
                counts[instance.state.value] += 1
            return {**counts, "pending": len(self._pending), "started": self._count}

    def crash_busy(self) -> int:
        """Kill the instances running an invocation, as if their sandbox died; how many."""
        with self._cond:
            busy = [i for i in self._instances if i.state is State.BUSY and i.kill_reason is None]
            for instance in busy:
                instance.kill_reason = "crash"
        for instance in busy:
            instance.sandbox.kill()
        return len(busy)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            pending = list(self._pending)
            self._pending.clear()
            instances = list(self._instances)
            for instance in instances:
                instance.kill_reason = instance.kill_reason or "shutdown"
            self._cond.notify_all()
        for invocation in pending:
            invocation.complete(
                error_payload("ServiceShutdown", "The local runtime is shutting down"), UNHANDLED
            )
        for instance in instances:
            instance.sandbox.kill()
        for instance in instances:
            instance.server.stop()

    # scheduling
    def _scale_locked(self) -> list[_Instance]:
        """Reserve the instances the waiting invocations need (started outside the lock)."""
        available = sum(i.state in (State.STARTING, State.IDLE, State.FINISHING) for i in self._instances)
        new: list[_Instance] = []
        while len(self._pending) > available + len(new) and len(self._instances) < self.config.concurrency:
            self._count += 1
            instance = _Instance(self, self._count)
            self._instances.append(instance)
            new.append(instance)
        return new

    def _start_instances(self, instances: list[_Instance]) -> None:
        for instance in instances:
            instance.sandbox.emit(
                "platform", f"INIT_START Runtime: {self.config.python} (template: {self.config.runtime})"
            )
            try:
                instance.start()
            except (OSError, subprocess.SubprocessError) as exc:
                instance.sandbox.emit("platform", f"could not start the worker: {exc}")
                instance.server.stop()
                self._instance_exited(instance, 127, start_error=str(exc))

    def _next_invocation(self, instance: _Instance) -> NextInvocation | None:
        with self._cond:
            if instance.state is State.STARTING:
                instance.init_duration_ms = (time.monotonic() - instance.sandbox.started_at) * 1000
            if instance.state in (State.STARTING, State.FINISHING):
                instance.state = State.IDLE
            while not self._pending and instance.state is State.IDLE and not self._closed:
                self._cond.wait()
            if instance.state is not State.IDLE or self._closed:
                return None
            invocation = self._pending.popleft()
            instance.state = State.BUSY
            instance.invocation = invocation
            invocation.started_at = time.monotonic()
            instance.deadline = invocation.started_at + self.config.timeout_s
            invocation.init_duration_ms, instance.init_duration_ms = instance.init_duration_ms, None
        deadline_ms = int((time.time() + self.config.timeout_s) * 1000)
        instance.sandbox.emit("platform", f"START RequestId: {invocation.request_id} Version: $LATEST")
        return NextInvocation(
            invocation.request_id,
            invocation.payload,
            deadline_ms,
            self.config.arn,
            invocation.trace_id,
            invocation.client_context,
        )

    def _finish(self, instance: _Instance, request_id: str, body: bytes, failed: bool) -> None:
        with self._cond:
            invocation = instance.invocation
            if instance.state is not State.BUSY or invocation is None:
                raise RuntimeApiError(HTTPStatus.FORBIDDEN, "InvalidStateTransition", "no invocation running")
            if request_id != invocation.request_id:
                raise RuntimeApiError(
                    HTTPStatus.BAD_REQUEST, "InvalidRequestID", f"unknown request id {request_id}"
                )
            instance.invocation = None
            instance.state = State.FINISHING
            self._cond.notify_all()
        self._report(instance, invocation)
        invocation.complete(body, UNHANDLED if failed else None)

    def _init_error(self, instance: _Instance, body: bytes) -> None:
        with self._cond:
            if instance.state is not State.STARTING:
                raise RuntimeApiError(HTTPStatus.FORBIDDEN, "InvalidStateTransition", "init already done")
            instance.init_error_body = body
            instance.init_error_at = time.monotonic()
        duration = (time.monotonic() - instance.sandbox.started_at) * 1000
        error_type = InvokeResult("", body, UNHANDLED).error_type or "Runtime.Unknown"
        instance.sandbox.emit(
            "platform",
            f"INIT_REPORT Init Duration: {duration:.2f} ms\tPhase: init\tStatus: error\t"
            f"Error Type: {error_type}",
        )

    def _instance_exited(self, instance: _Instance, code: int, start_error: str | None = None) -> None:
        failed: list[tuple[Invocation, bytes]] = []
        with self._cond:
            was = instance.state
            instance.state = State.DEAD
            if instance in self._instances:
                self._instances.remove(instance)
            invocation, instance.invocation = instance.invocation, None
            if invocation is not None:
                failed.append((invocation, self._exit_error(instance, invocation.request_id, code)))
            elif was is State.STARTING and self._pending and instance.kill_reason != "shutdown":
                # Init failed: the invocation waiting for this instance gets the init error, as on Lambda.
                waiting = self._pending.popleft()
                if instance.init_error_body is not None:
                    body = instance.init_error_body
                elif start_error is not None:
                    body = error_payload("Runtime.InvalidEntrypoint", start_error)
                else:
                    body = self._exit_error(instance, waiting.request_id, code)
                failed.append((waiting, body))
            to_start = [] if self._closed else self._scale_locked()
            self._cond.notify_all()
        for failed_invocation, body in failed:
            self._report(instance, failed_invocation)
            failed_invocation.complete(body, UNHANDLED)
        if instance.kill_reason != "shutdown" and (code != 0 or instance.kill_reason is not None):
            reason = f" ({instance.kill_reason})" if instance.kill_reason else ""
            instance.sandbox.emit("platform", f"{exit_description(code)}{reason}")
        self._start_instances(to_start)

    def _exit_error(self, instance: _Instance, request_id: str, code: int) -> bytes:
        if instance.kill_reason in {"timeout", "init-timeout"}:
            return error_payload(
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after {self.config.timeout_s:.2f} seconds",
            )
        error_type = "Runtime.OutOfMemory" if instance.kill_reason == "memory" else "Runtime.ExitError"
        return error_payload(error_type, f"RequestId: {request_id} Error: {exit_description(code)}")

    def _report(self, instance: _Instance, invocation: Invocation) -> None:
        duration = 0.0 if invocation.started_at is None else (time.monotonic() - invocation.started_at) * 1000
        instance.sandbox.memory_kb()  # refresh the peak while the worker is still there
        instance.sandbox.drain()  # the function's own lines come before END
        report = (
            f"REPORT RequestId: {invocation.request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration + 0.999))} ms\t"
            f"Memory Size: {self.config.memory_mb} MB\tMax Memory Used: {instance.sandbox.peak_kb // 1024} MB"
        )
        if invocation.init_duration_ms is not None:
            report += f"\tInit Duration: {invocation.init_duration_ms:.2f} ms"
        if instance.kill_reason in {"timeout", "memory"}:
            report += f"\tStatus: {'timeout' if instance.kill_reason == 'timeout' else 'error'}"
        for line in (f"END RequestId: {invocation.request_id}", report):
            instance.sandbox.emit("platform", line)
            invocation.logs.append(line)  # the instance no longer holds the invocation

    # limits
    def _watch(self) -> None:
        """Kill workers past their deadline or over their memory size; fail their invocation now."""
        while True:
            time.sleep(MONITOR_INTERVAL_S)
            now = time.monotonic()
            doomed: list[tuple[_Instance, Invocation | None, bytes | None]] = []
            with self._cond:
                if self._closed and not self._instances:
                    return
                for instance in self._instances:
                    if instance.kill_reason is not None or instance.state is State.DEAD:
                        continue
                    reason = self._limit_breached(instance, now)
                    if reason is None:
                        continue
                    instance.kill_reason = reason
                    invocation, instance.invocation = instance.invocation, None  # decided here, not on exit
                    body = None
                    if invocation is not None:
                        body = self._exit_error(instance, invocation.request_id, -signal.SIGKILL)
                    doomed.append((instance, invocation, body))
            for instance, invocation, body in doomed:
                instance.sandbox.kill()
                if invocation is None or body is None:
                    continue
                self._report(instance, invocation)
                if instance.kill_reason == "timeout":
                    message = timeout_message(invocation.request_id, self.config.timeout_s)
                else:
                    message = json.loads(body)["errorMessage"]
                instance.sandbox.emit("platform", message)
                invocation.logs.append(message)
                invocation.complete(body, UNHANDLED)

    def _limit_breached(self, instance: _Instance, now: float) -> str | None:
        """Why the instance must be killed now, if it must."""
        if instance.state is State.BUSY and now >= instance.deadline:
            return "timeout"
        if instance.state is State.STARTING:
            if instance.init_error_body is not None and now - instance.init_error_at > INIT_ERROR_GRACE_S:
                return "init-error"  # posted its init error but did not exit
            if now - instance.sandbox.started_at > INIT_TIMEOUT_S + self.config.timeout_s:
                return "init-timeout"
        if (instance.sandbox.memory_kb() or 0) > self.config.memory_mb * 1024:
            return "memory"
        return None
