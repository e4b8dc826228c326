"""The Lambda Runtime API (2018-06-01) that a function instance's runtime interface client polls.

One server listens per sandbox, on its own ephemeral port: awslambdaric's C client does accept a path
after host:port in AWS_LAMBDA_RUNTIME_API, but its init-error path (Python http.client) does not, so
the port is what tells the server which sandbox is calling.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

API_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # synchronous invocation response limit


@dataclass(frozen=True)
class NextInvocation:
    """What GET /invocation/next hands the runtime: the event and Lambda's per-invoke headers."""

    request_id: str
    payload: bytes
    deadline_ms: int  # Unix epoch milliseconds
    function_arn: str
    trace_id: str
    client_context: str | None = None  # JSON text, already base64-decoded
    cognito_identity: str | None = None  # JSON text

    def headers(self) -> dict[str, str]:
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
            "Content-Type": "application/json",
        }
        if self.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        return headers


class RuntimeApiError(Exception):
    """A request the Runtime API refuses; sent back as Lambda's {errorMessage, errorType} body."""

    def __init__(self, status: HTTPStatus, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class RuntimeApiBackend(Protocol):
    """The sandbox behind one Runtime API server. Methods are called from the server's threads."""

    def next_invocation(self) -> NextInvocation | None:
        """Block until this sandbox gets an invocation; None when the sandbox is shutting down."""

    def invocation_response(self, request_id: str, body: bytes, content_type: str) -> None: ...

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def init_error(self, body: bytes, error_type: str | None) -> None: ...


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the C client's curl connection open between calls; without TCP_NODELAY the
    # headers and body go out in two segments and each call waits ~40 ms for a delayed ACK.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: RuntimeApiServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._send_error(RuntimeApiError(HTTPStatus.NOT_FOUND, "NotFound", f"no route {self.path}"))
            return
        invocation = self.server.backend.next_invocation()
        if invocation is None:
            # The sandbox is going away: a 500 tells the runtime to exit.
            self._send_error(
                RuntimeApiError(HTTPStatus.INTERNAL_SERVER_ERROR, "Shutdown", "sandbox stopping")
            )
            return
        self._send(HTTPStatus.OK, invocation.payload, invocation.headers())

    def do_POST(self) -> None:
        body = self._read_body()
        error_type = self.headers.get(ERROR_TYPE_HEADER)
        backend = self.server.backend
        try:
            if self.path == f"{API_PREFIX}/init/error":
                backend.init_error(body, error_type)
            else:
                prefix = f"{API_PREFIX}/invocation/"
                request_id, _, action = self.path.removeprefix(prefix).partition("/")
                if not self.path.startswith(prefix) or action not in ("response", "error"):
                    raise RuntimeApiError(HTTPStatus.NOT_FOUND, "NotFound", f"no route {self.path}")
                if action == "response":
                    content_type = self.headers.get("Content-Type", "application/json")
                    backend.invocation_response(request_id, body, content_type)
                else:
                    backend.invocation_error(request_id, body, error_type)
        except RuntimeApiError as exc:
            self._send_error(exc)
            return
        self._send(HTTPStatus.ACCEPTED, b'{"status":"OK"}', {"Content-Type": "application/json"})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_error(self, exc: RuntimeApiError) -> None:
        body = json.dumps({"errorMessage": str(exc), "errorType": exc.error_type}).encode()
        self._send(exc.status, body, {"Content-Type": "application/json"})

    def _send(self, status: HTTPStatus, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the worker went away (killed on timeout, crashed); nothing to tell it


class RuntimeApiServer(ThreadingHTTPServer):
    """A Runtime API endpoint on 127.0.0.1, on an ephemeral port, serving one sandbox."""

    daemon_threads = True

    def __init__(self, backend: RuntimeApiBackend, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.host = host
        self.backend = backend
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"runtime-api:{self.port}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def address(self) -> str:
        """The value of AWS_LAMBDA_RUNTIME_API: host:port, no scheme."""
        return f"{self.host}:{self.port}"

    def handle_error(self, request: object, client_address: object) -> None:
        """A worker killed mid-request resets its connection: expected, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.shutdown()
        self.server_close()
