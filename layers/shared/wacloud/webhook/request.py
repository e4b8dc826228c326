"""The HTTP API's Lambda event (payload format 2.0), read defensively into what the webhook needs.

The function is internet-facing: anyone can send it anything API Gateway accepts, and direct
invokes can send anything at all. Whatever the shape, the outcome is an answer, never an
exception: a shape we cannot read is the client's mistake (400).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class BadRequest(Exception):
    """The event cannot be read as an HTTP request; ``reason`` is safe to answer and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HttpRequest:
    method: str
    request_id: str
    received_at_ms: int
    headers: Mapping[str, str] = field(default_factory=dict)
    """Lower-cased names: HTTP header names are case-insensitive."""
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    text: str | None = None
    """The body as the event held it, when it came as text (so ``body`` is its UTF-8)."""

    @classmethod
    def from_event(cls, event: Any) -> HttpRequest:
        if not isinstance(event, Mapping):
            raise BadRequest("the event is not an object")
        context = _mapping(event.get("requestContext"), "requestContext")
        http = _mapping(context.get("http"), "requestContext.http")
        time_epoch = context.get("timeEpoch")
        received_at_ms = (
            time_epoch if isinstance(time_epoch, int) and time_epoch > 0 else int(time.time() * 1000)
        )
        return cls(
            method=_text(http.get("method")),
            request_id=_text(context.get("requestId")),
            received_at_ms=received_at_ms,
            headers={
                str(name).lower(): value
                for name, value in _mapping(event.get("headers"), "headers").items()
                if isinstance(value, str)
            },
            query={
                str(name): value
                for name, value in _mapping(
                    event.get("queryStringParameters"), "queryStringParameters"
                ).items()
                if isinstance(value, str)
            },
            body=_body(event),
            text=None if event.get("isBase64Encoded") is True else event.get("body"),
        )


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequest(f"{name} is not an object")
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadRequest("body is not a string")
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("body is not valid text") from None
