"""AWS (and the Graph API) answering at once, in a process of its own.

Timing the functions against it leaves in the measurement only their own work: the answers cost
the measured process nothing but reading them, and an emulator's CPU is not in its process
clock. DynamoDB, SQS and Secrets Manager speak JSON over POST (told apart by ``x-amz-target``),
S3's PutObject is a PUT, and any other POST is a Graph API send. ``latency`` delays each answer,
as AWS's network round trip would.

The send lines (``PACE#`` items, :mod:`wacloud.table.pacing`) are the one part whose answers must
be true, since instances share them: the stand-in keeps them, and answers the two conditional
updates the pacer makes as DynamoDB does, one at a time. Any other request on a send line is
refused, so that a change in the pacer cannot pass here unnoticed.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = {"app_secret": "bench-secret", "verify_token": "bench", "access_token": "bench-token"}
_ANSWERS: dict[str, dict[str, Any]] = {
    "BatchWriteItem": {"UnprocessedItems": {}},
    "Query": {"Items": [], "Count": 0, "ScannedCount": 0},
    "Scan": {"Items": [], "Count": 0, "ScannedCount": 0},
    "BatchGetItem": {"Responses": {}, "UnprocessedKeys": {}},
    "SendMessage": {"MessageId": "00000000-0000-4000-8000-000000000000"},
    "SendMessageBatch": {"Successful": [], "Failed": []},
    "GetSecretValue": {
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench",
        "Name": "bench",
        "SecretString": json.dumps(SECRET),
    },
}


_CONDITION_FAILED = "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
_INVALID = "com.amazonaws.dynamodb.v20120810#ValidationException"
_LINE_PREFIX = "PACE#"
# The pacer's two updates (wacloud.table.pacing._Lines): extend a busy line, start an empty one.
_EXTEND = ("SET next_us = next_us + :interval, expires_at = :expires", "next_us BETWEEN :now AND :latest")
_START = ("SET next_us = :next, expires_at = :expires", "attribute_not_exists(next_us) OR next_us < :now")


class SendLines:
    """The send lines' items, updated as DynamoDB's conditional UpdateItem does: the condition is
    checked on the stored item and the update applied in one step; a failed condition returns the
    item as stored (``ReturnValuesOnConditionCheckFailure: ALL_OLD``); ``UPDATED_OLD`` returns the
    updated attributes' values before the update."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, int]] = {}
        self._lock = threading.Lock()

    def update(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        key = request["Key"]
        pk, sk = key["pk"]["S"], key["sk"]["S"]
        form = (request.get("UpdateExpression"), request.get("ConditionExpression"))
        values = {
            name: int(value["N"]) for name, value in request.get("ExpressionAttributeValues", {}).items()
        }
        returns = request.get("ReturnValues", "NONE")
        if form not in (_EXTEND, _START) or returns not in ("NONE", "UPDATED_OLD"):
            return 400, {
                "__type": _INVALID,
                "message": f"the stand-in does not know this send line update: {form}",
            }
        with self._lock:
            stored = self._items.get((pk, sk))
            now_next = None if stored is None else stored.get("next_us")
            if form == _EXTEND:
                holds = now_next is not None and values[":now"] <= now_next <= values[":latest"]
                update = {"next_us": (now_next or 0) + values[":interval"], "expires_at": values[":expires"]}
            else:
                holds = now_next is None or now_next < values[":now"]
                update = {"next_us": values[":next"], "expires_at": values[":expires"]}
            if not holds:
                failed: dict[str, Any] = {
                    "__type": _CONDITION_FAILED,
                    "message": "The conditional request failed",
                }
                if stored is not None and request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                    failed["Item"] = _wire(pk, sk, stored)
                return 400, failed
            self._items[(pk, sk)] = {**(stored or {}), **update}
        if returns == "UPDATED_OLD" and stored:
            return 200, {"Attributes": {name: {"N": str(stored[name])} for name in update if name in stored}}
        return 200, {}


def _wire(pk: str, sk: str, item: dict[str, int]) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"N": str(value)} for name, value in item.items()}}


class _Handler(BaseHTTPRequestHandler):
    latency = 0.0
    lines = SendLines()
    protocol_version = "HTTP/1.1"  # connections kept open, as AWS's are
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        target = self.headers.get("x-amz-target")
        time.sleep(self.latency)
        if target is None:  # the Graph API: a send answered with its wamid
            self._answer(
                {"messaging_product": "whatsapp", "messages": [{"id": "wamid.BENCH"}]}, "application/json"
            )
            return
        operation = target.rpartition(".")[2]
        if _LINE_PREFIX.encode() in body:
            request = json.loads(body)
            if request.get("Key", {}).get("pk", {}).get("S", "").startswith(_LINE_PREFIX):
                status, answer = (
                    self.lines.update(request)
                    if operation == "UpdateItem"
                    else (400, {"__type": _INVALID, "message": f"{operation} on a send line"})
                )
                self._answer(answer, "application/x-amz-json-1.0", status)
                return
        self._answer(_ANSWERS.get(operation, {}), "application/x-amz-json-1.0")

    def do_HEAD(self) -> None:
        # S3's HeadObject: nothing is kept yet, so the object is put.
        time.sleep(self.latency)
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(self.latency)
        self.send_response(200)
        self.send_header("etag", '"0"')
        self.send_header("content-length", "0")
        self.end_headers()

    def _answer(self, body: dict[str, Any], kind: str, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(port: Any, latency: float) -> None:
    _Handler.latency = latency
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


@contextmanager
def stand_in(latency: float = 0.0) -> Iterator[str]:
    """The stand-in's URL, for ``AWS_ENDPOINT_URL`` (and ``GRAPH_API_URL``)."""
    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    process = context.Process(target=_serve, args=(port, latency), daemon=True)
    process.start()
    try:
        while not port.value:
            if not process.is_alive():
                raise RuntimeError(f"the AWS stand-in exited at start (exit code {process.exitcode})")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port.value}"
    finally:
        process.terminate()
        process.join()


def aws_environment(endpoint: str) -> dict[str, str]:
    """Environment sending every AWS client of a process to the stand-in."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
