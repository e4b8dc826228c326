"""The HTTP server and the simulator's lifecycle: ``start()`` in the background, ``stop()`` joins all."""

from __future__ import annotations

import json
import logging
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from walocal.http_reply import ReplyingHandler

from .api import GraphApi, Request, Response
from .config import SimulatorConfig
from .delayed import DelayedCalls
from .media import MAX_MEDIA_BYTES, MediaStore
from .state import SimulatorState
from .webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
# A media upload carries the file: up to Meta's largest limit (documents), with the form around it.
MAX_UPLOAD_BYTES = MAX_MEDIA_BYTES + 64 * 1024


class _HttpServer(ThreadingHTTPServer):
    # Handler threads are joined on close so that nothing outlives stop(); requests are short
    # (hangs end on stop), and HTTP/1.0 closes every connection after one answer.
    daemon_threads = False
    block_on_close = True
    # socketserver's default backlog of 5 resets connections when a client sends in parallel.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: GraphApi) -> None:
        super().__init__(address, _Handler)
        self.api = api


class _Handler(ReplyingHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.0"
    log = log
    access_log_level = logging.DEBUG
    server_version = "GraphApiSimulator/1.0"
    # Bounds how long a silent client can hold a handler thread.
    timeout = 30

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        upload = self.path.split("?", 1)[0].rstrip("/").endswith("/media")
        limit = MAX_UPLOAD_BYTES if upload else MAX_BODY_BYTES
        if length > limit:
            self._send(Response(413, {"error": {"message": "request body too large"}}))
            return
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            body=body,
            headers=dict(self.headers.items()),
            query=parse_qs(url.query),
        )
        try:
            response = self.server.api.handle(request)
        except Exception:
            log.exception("simulator failed on %s %s", self.command, self.path)
            response = Response(
                500, {"error": {"message": "simulator error", "type": "OAuthException", "code": 1}}
            )
        self._send(response)

    def _send(self, response: Response) -> None:
        payload = response.raw if response.raw is not None else json.dumps(response.body).encode("utf-8")
        self.reply(response.status, payload, {"Content-Type": response.content_type})


class GraphApiSimulator:
    """A local stand-in for Meta's Cloud API ``/messages`` endpoint and its webhooks.

    ``with GraphApiSimulator(config) as sim:`` starts it on ``config.host``/``config.port``
    (port 0 picks a free one; see ``url``) and stops it, joining every thread it started.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.state = SimulatorState(self.config)
        self._stopping = threading.Event()
        self._scheduler = DelayedCalls()
        self._dispatcher = WebhookDispatcher(self.config, self._scheduler)
        self.media = MediaStore(self.config.clock, self.config.media_url_ttl, self.config.max_records)
        self._api = GraphApi(self.config, self.state, self._dispatcher, self._stopping, self.media)
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.config.host, self.config.port
        if self._server is not None:
            port = self._server.server_address[1]
        return f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping.is_set()

    def start(self) -> Self:
        with self._lock:
            if self._server is not None or self._stopping.is_set():
                raise RuntimeError("a simulator can only be started once")
            self._server = _HttpServer((self.config.host, self.config.port), self._api)
            self._scheduler.start()
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="graph-simulator-http",
                daemon=True,
            )
            self._thread.start()
        log.info("Graph API simulator on %s, webhooks to %s", self.url, self.config.webhook_url)
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
            server, thread = self._server, self._thread
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()
        self._scheduler.stop()
        log.info("Graph API simulator on %s stopped", self.url)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``stop()``; True when stopped."""
        return self._stopping.wait(timeout)

    def reset(self) -> None:
        self.state.reset()

    def snapshot(self, to: str | None = None) -> dict[str, Any]:
        return self.state.snapshot(to)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
