"""Serves the Lambda Invoke API, as ``sam local start-lambda`` does, for boto3 and the AWS CLI."""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
import uuid
from http.server import ThreadingHTTPServer
from typing import Any

from walocal.functions import LocalFunction
from walocal.http_reply import ReplyingHandler

log = logging.getLogger("walocal.invoke_api")

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
# Lambda's limit for a synchronous request payload.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


class InvokeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], functions: dict[str, LocalFunction]):
        super().__init__(address, _InvokeHandler)
        self.functions = functions


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
        name = match.group(1).rsplit(":", 1)[-1] if ":function:" in match.group(1) else match.group(1)
        function = self.server.functions.get(name)
        if function is None:
            known = ", ".join(sorted(self.server.functions))
            self._error(404, "ResourceNotFoundException", f"Function not found: {name} (known: {known})")
            return
        if length > MAX_PAYLOAD_BYTES:
            self._error(413, "RequestTooLargeException", "Request payload is larger than 6 MB")
            return
        try:
            event = json.loads(payload) if payload.strip() else {}
        except ValueError:
            self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        request_id = str(uuid.uuid4())
        if invocation_type == "DryRun":
            self._reply(204, b"", {"x-amzn-RequestId": request_id})
        elif invocation_type == "Event":
            threading.Thread(target=_invoke_async, args=(function, event, request_id), daemon=True).start()
            self._reply(202, b"", {"x-amzn-RequestId": request_id})
        else:
            self._invoke_sync(function, event, request_id)

    def _invoke_sync(self, function: LocalFunction, event: Any, request_id: str) -> None:
        headers = {"x-amzn-RequestId": request_id, "X-Amz-Executed-Version": "$LATEST"}
        try:
            result = function.invoke(event, request_id=request_id)
        except Exception as exc:
            log.exception("%s raised", function.name)
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            headers["X-Amz-Function-Error"] = "Unhandled"
            self._reply(200, json.dumps(error).encode("utf-8"), headers)
            return
        self._reply(200, json.dumps(result).encode("utf-8"), headers)

    def _error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode("utf-8")
        self._reply(status, body, {"x-amzn-ErrorType": error_type})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.reply(status, body, {"content-type": "application/json", **headers})


def _invoke_async(function: LocalFunction, event: Any, request_id: str) -> None:
    try:
        function.invoke(event, request_id=request_id)
    except Exception:
        log.exception("asynchronous invocation of %s failed", function.name)
