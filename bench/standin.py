"""AWS (and the Graph API) answering at once, in a process of its own.

Timing the functions against it leaves in the measurement only their own work: the answers cost
the measured process nothing but reading them, and an emulator's CPU is not in its process
clock. DynamoDB, SQS and Secrets Manager speak JSON over POST (told apart by ``x-amz-target``),
S3's PutObject is a PUT, and any other POST is a Graph API send. ``latency`` delays each answer,
as AWS's network round trip would. ``forward`` sends the DynamoDB requests that name one of its
keys' prefixes to a real emulator instead (the sender's send line, whose answers must be true).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SECRET = {"app_secret": "bench-secret", "verify_token": "bench", "access_token": "bench-token"}
_connections = threading.local()
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


class _Handler(BaseHTTPRequestHandler):
    latency = 0.0
    forward: tuple[str, tuple[bytes, ...]] | None = None
    protocol_version = "HTTP/1.1"  # connections kept open, as AWS's are
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        target = self.headers.get("x-amz-target")
        if self.forward is not None and target and any(key in body for key in self.forward[1]):
            self._forward(self.forward[0], body)
            return
        time.sleep(self.latency)
        if target is None:  # the Graph API: a send answered with its wamid
            self._answer(
                {"messaging_product": "whatsapp", "messages": [{"id": "wamid.BENCH"}]}, "application/json"
            )
            return
        operation = target.rpartition(".")[2]
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

    def _forward(self, url: str, body: bytes) -> None:
        headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
        # One kept-open connection per serving thread: the emulator's time, not connection set-ups.
        connection = getattr(_connections, "emulator", None)
        if connection is None:
            connection = _connections.emulator = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
        try:
            connection.request("POST", "/", body=body, headers=headers)
            answer = connection.getresponse()
        except (OSError, http.client.HTTPException):
            connection.close()
            connection.request("POST", "/", body=body, headers=headers)
            answer = connection.getresponse()
        status, data, kind = answer.status, answer.read(), answer.getheader("content-type", "")
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, body: dict[str, Any], kind: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(port: Any, latency: float, forward: tuple[str, tuple[bytes, ...]] | None = None) -> None:
    _Handler.latency = latency
    _Handler.forward = forward
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


@contextmanager
def stand_in(latency: float = 0.0, forward: tuple[str, tuple[bytes, ...]] | None = None) -> Iterator[str]:
    """The stand-in's URL, for ``AWS_ENDPOINT_URL`` (and ``GRAPH_API_URL``). ``forward``: an
    emulator's URL, and the key prefixes whose DynamoDB requests go to it."""
    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    process = context.Process(target=_serve, args=(port, latency, forward), daemon=True)
    process.start()
    try:
        while not port.value:
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
