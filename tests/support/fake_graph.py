"""A scripted Graph API on loopback: records each request, answers from a script (or success)."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from walocal.http_reply import ReplyingHandler


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class Disconnect:
    """A script entry: read the request, then close the connection without answering."""

    def __repr__(self) -> str:
        return "disconnect"


DISCONNECT = Disconnect()


@dataclass(frozen=True)
class Reply:
    """A script entry for answers a ``(status, json)`` pair cannot spell: raw bytes, headers."""

    status: int
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"HTTP {self.status} {self.body!r:.30}"


@dataclass(frozen=True)
class Late:
    """A script entry: hold the answer back ``seconds`` (past a client's read timeout), then give
    it anyway, as Meta does when it accepted a message whose answer the client stopped waiting for.
    ``answer`` None is the usual success."""

    seconds: float
    answer: tuple[int, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"late {self.seconds} s"


Answer = tuple[int, dict[str, Any]] | Disconnect | Reply | Late


@dataclass
class FakeGraph:
    """Answers ``(status, json)`` pairs (or :data:`DISCONNECT`) from ``script`` in order, then success.

    ``on_request`` runs for every request before it is answered (in the server's thread), for
    example to hold an answer back until a test has done something else. A request whose bearer
    token is in ``rejected_tokens`` is answered with Meta's 190, whatever the script says.
    """

    script: list[Answer] = field(default_factory=list)
    by_text: dict[str, list[Answer]] = field(default_factory=dict)
    """Answers for the requests of a text body, in order, before ``script``: the sender sends the
    records of a batch side by side, so the order in which they arrive is not theirs."""
    requests: list[RecordedRequest] = field(default_factory=list)
    on_request: Callable[[dict[str, Any]], None] | None = None
    rejected_tokens: set[str] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, body: dict[str, Any], token: str = "") -> Answer:
        if token in self.rejected_tokens:
            return graph_error(190, "Error validating access token: Session has expired", http_status=401)
        text = body.get("text", {}).get("body") if isinstance(body.get("text"), dict) else None
        with self._lock:
            answers = self.by_text.get(text) if isinstance(text, str) else None
            if answers:
                return answers.pop(0)
            if self.script:
                return self.script.pop(0)
        return self.success(body)

    def success(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Meta's answer to a request it accepts: a new wamid, or ``success`` for a mark-as-read."""
        if body.get("status") == "read":
            return 200, {"success": True}
        with self._lock:
            wamid = f"wamid.FAKE{next(self._ids):06d}"
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }


def graph_error(code: int, message: str = "error", http_status: int = 400) -> tuple[int, dict[str, Any]]:
    return http_status, {
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    }


class _Handler(ReplyingHandler):
    server: _Server
    access_log_level = logging.DEBUG

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        fake = self.server.fake
        fake.record(RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if fake.on_request is not None:
            fake.on_request(body)
        answer = fake.answer(body, self.headers.get("authorization", "").removeprefix("Bearer "))
        if isinstance(answer, Late):
            time.sleep(answer.seconds)
            answer = answer.answer or fake.success(body)
        if isinstance(answer, Disconnect):
            self.close_connection = True
            return
        if isinstance(answer, Reply):
            raw = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            self.reply(answer.status, raw, answer.headers)
            return
        status, payload_object = answer
        self.reply(status, json.dumps(payload_object).encode(), {"content-type": "application/json"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeGraph) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeGraphServer:
    def __init__(self) -> None:
        self.fake = FakeGraph()
        self._server = _Server(self.fake)
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeGraphServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
