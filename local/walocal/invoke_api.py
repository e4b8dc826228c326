"""Serves the Lambda Invoke API, as ``sam local start-lambda`` does, for boto3 and the AWS CLI.

``RequestResponse`` answers with the function's result, or with its error payload and
``X-Amz-Function-Error: Unhandled``; ``LogType: Tail`` adds the last 4 KB of the invocation's log.
``Event`` answers 202 at once; the service retries a failed event and sends it to the function's
``OnFailure`` destination. ``DryRun`` only checks the request (204).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Mapping
from http.server import ThreadingHTTPServer

from walocal.http_reply import ReplyingHandler
from walocal.lambda_service import FunctionTarget

log = logging.getLogger("walocal.invoke_api")

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
# Lambda's limits for a request payload: synchronous, and asynchronous.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024
MAX_LOG_TAIL_BYTES = 4096


class InvokeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], functions: Mapping[str, FunctionTarget]):
        super().__init__(address, _InvokeHandler)
        self.functions = functions


def function_name(path_part: str) -> str:
    """The function's name from a name, a partial ARN or an ARN, without a qualifier."""
    if ":function:" in path_part:
        path_part = path_part.split(":function:", 1)[1]
    return path_part.split(":", 1)[0]


class _InvokeHandler(ReplyingHandler):
    server: InvokeApiServer
    protocol_version = "HTTP/1.1"
    log = log

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        payload = self.rfile.read(length) if length else b""
        match = _INVOKE_PATH.match(self.path.split("?", 1)[0])
        if match is None:
            self._error(404, "ResourceNotFoundException", f"no route for {self.path}")
            return
        name = function_name(match.group(1))
        function = self.server.functions.get(name)
        if function is None:
            known = ", ".join(sorted(self.server.functions))
            self._error(404, "ResourceNotFoundException", f"Function not found: {name} (known: {known})")
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        limit = MAX_ASYNC_PAYLOAD_BYTES if invocation_type == "Event" else MAX_PAYLOAD_BYTES
        if length > limit:
            self._error(413, "RequestTooLargeException", f"Request must be smaller than {limit} bytes")
            return
        if not payload.strip():
            payload = b"{}"
        try:
            json.loads(payload)
        except ValueError:
            self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
            return
        if invocation_type == "DryRun":
            self._reply(204, b"", {})
        elif invocation_type == "Event":
            request_id = function.run_async(payload)
            self._reply(202, b"", {"x-amzn-RequestId": request_id})
        elif invocation_type == "RequestResponse":
            self._invoke_sync(function, payload)
        else:
            self._error(400, "InvalidParameterValueException", f"Unknown invocation type {invocation_type}")

    def _invoke_sync(self, function: FunctionTarget, payload: bytes) -> None:
        result = function.run(payload)
        headers = {"x-amzn-RequestId": result.request_id, "X-Amz-Executed-Version": "$LATEST"}
        if result.function_error is not None:
            headers["X-Amz-Function-Error"] = result.function_error
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            tail = "".join(f"{line}\n" for line in result.logs).encode("utf-8")[-MAX_LOG_TAIL_BYTES:]
            headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode("ascii")
        self._reply(200, result.payload, headers)

    def _error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode("utf-8")
        self._reply(status, body, {"x-amzn-ErrorType": error_type})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.reply(status, body, {"content-type": "application/json", **headers})
