"""Serves the template's HTTP API routes: real payload 2.0 events, answered as API Gateway answers."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from walocal.events import http_api_event
from walocal.http_reply import ReplyingHandler
from walocal.lambda_service import FunctionTarget
from walocal.template import HttpRoute

log = logging.getLogger("walocal.http_api")

# API Gateway's own payload limit for HTTP APIs.
MAX_BODY_BYTES = 10 * 1024 * 1024
# What API Gateway answers when the function fails, times out or returns something unusable.
BAD_GATEWAY = b'{"message":"Internal Server Error"}'


class HttpApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], routes: list[HttpRoute], functions: Mapping[str, FunctionTarget]
    ):
        super().__init__(address, _HttpApiHandler)
        self.routes = {(route.method, route.path): functions[route.function] for route in routes}


class _HttpApiHandler(ReplyingHandler):
    server: HttpApiServer
    protocol_version = "HTTP/1.1"
    log = log

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}')
            return
        body = self.rfile.read(length) if length else b""
        function = self.server.routes.get((method, url.path))
        if function is None:
            self._reply(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
            return
        event = http_api_event(
            method=method,
            path=url.path,
            route_key=f"{method} {url.path}",
            headers=self.headers.items(),
            body=body,
            query=url.query,
            source_ip=self.client_address[0],
        )
        result = function.run(json.dumps(event).encode("utf-8"))
        if result.function_error is not None:
            log.error("%s failed (%s): API Gateway answers 502", function.name, result.error_type)
            self._reply(502, {"content-type": "application/json"}, BAD_GATEWAY)
            return
        try:
            status, headers, payload = _http_response(result.json())
        except (ValueError, TypeError, KeyError) as exc:
            log.error("%s returned a response API Gateway cannot use (%s): 502", function.name, exc)
            self._reply(502, {"content-type": "application/json"}, BAD_GATEWAY)
            return
        self._reply(status, headers, payload)

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.reply(status, body, headers)


def _http_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Map a handler's return value to HTTP the way HTTP APIs do for payload format 2.0."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        return int(result["statusCode"]), headers, raw
    # Anything else is taken as a JSON body with status 200.
    return 200, {"content-type": "application/json"}, json.dumps(result).encode("utf-8")
