"""What a failed Graph API request proves: nothing sent (retry), or the outcome is unknown (never).

The failures urllib3 reports are built here as urllib3 builds them, since a connect timeout or a
refused certificate cannot be produced cheaply on loopback; the functional tests drive refused
connections, read timeouts and dropped connections for real.
"""

from __future__ import annotations

import ssl
from http.client import RemoteDisconnected

import pytest
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from wacloud.meta.graph_client import (
    MAX_RETRY_AFTER_SECONDS,
    GraphClient,
    GraphEndpoint,
    GraphRequestError,
    graph_pool,
    never_sent,
    retry_after_seconds,
)

URL = "https://graph.facebook.com/v24.0/1/messages"
NOW = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 GMT


def failed(reason: Exception) -> MaxRetryError:
    return MaxRetryError(None, URL, reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "proven"),
    [
        (ConnectTimeoutError(None, "connect timed out"), True),
        (NewConnectionError(None, "Connection refused"), True),  # type: ignore[arg-type]
        (NameResolutionError("graph.test", None, OSError()), True),  # type: ignore[arg-type]
        (SSLError(ssl.SSLCertVerificationError(1, "verify failed")), True),
        # The request may have been written before these:
        (ReadTimeoutError(None, URL, "read timed out"), False),  # type: ignore[arg-type]
        (ProtocolError("Connection aborted.", RemoteDisconnected("closed")), False),
        (ProtocolError("Connection aborted.", ConnectionResetError()), False),
        (SSLError(ssl.SSLError(1, "bad record mac")), False),
        (ProtocolError("Response ended prematurely"), False),
        (ProtocolError("no cause at all"), False),
    ],
    ids=[
        "connect timeout",
        "refused",
        "unresolvable",
        "certificate refused",
        "read timeout",
        "remote disconnected",
        "connection reset",
        "tls error mid-stream",
        "truncated body",
        "unexplained",
    ],
)
def test_only_a_failure_to_connect_proves_nothing_was_sent(exc: Exception, proven: bool) -> None:
    assert never_sent(exc) is proven
    # The same, reported after retries.
    assert never_sent(failed(exc)) is proven


def test_a_token_http_refuses_in_a_header_is_never_sent() -> None:
    client = GraphClient(graph_pool(), GraphEndpoint("http://127.0.0.1:9", "v24.0", "1"))
    with pytest.raises(GraphRequestError, match="InvalidHeader"):
        client.post_message({"to": "1"}, "token\nX-Injected: 1")


@pytest.mark.parametrize("base_url", ["127.0.0.1:9", "ftp://127.0.0.1:9"])
def test_a_url_that_is_not_http_is_never_sent(base_url: str) -> None:
    client = GraphClient(graph_pool(), GraphEndpoint(base_url, "v24.0", "1"))
    with pytest.raises(GraphRequestError, match="cannot be made"):
        client.post_message({"to": "1"}, "token")
    with pytest.raises(GraphRequestError, match="cannot be made"):
        client.download(f"{base_url}/media", "token", 10)


def test_a_body_json_cannot_carry_is_never_sent() -> None:
    client = GraphClient(graph_pool(), GraphEndpoint("http://127.0.0.1:9", "v24.0", "1"))
    with pytest.raises(GraphRequestError, match="InvalidJSON"):
        client.post_message({"to": float("nan")}, "token")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("Fri, 15 Jan 2027 08:00:30 GMT", 30.0),
        ("Fri, 15 Jan 2027 07:59:00 GMT", 0.0),  # in the past: no wait
        ("99999999", MAX_RETRY_AFTER_SECONDS),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
        ("1e9", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits are not HTTP's
    ],
)
def test_retry_after_is_read_as_http_defines_it(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds
