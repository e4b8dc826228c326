"""The Cloud API's ``/messages`` endpoint over HTTP: timeouts, Meta's errors, and what a failure proves.

Meta has no idempotency of its own, so what matters about a failed request is whether it proves
that Meta did not take the message:

- **Not sent** (:class:`GraphApiError`, :class:`GraphUnreachableError`, :class:`GraphRequestError`):
  no connection was made (refused, unresolvable, connect timeout, certificate refused), the
  request could not be built, or an answer refused it: Meta's error object, or an HTTP 4xx such
  as 429, which refuses a request before it is processed. Sending it again cannot duplicate it.
- **Outcome unknown** (:class:`GraphOutcomeUnknownError`): the request went out and no usable
  answer came back: a read timeout, a connection dropped after sending, a 5xx without Meta's
  error object (a gateway may give up on a backend that goes on to accept the message), or a
  success that is not Meta's JSON. Meta may have accepted it; sending it again could deliver it
  twice.
"""

from __future__ import annotations

import json
import math
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

# urllib3 rather than requests: botocore has loaded it already, so the Graph API costs the cold
# start nothing more (requests took about 40 ms of the sender's).
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, LocationValueError, MaxRetryError
from urllib3.filepost import encode_multipart_formdata

from wacloud.core.errors import WaCloudError
from wacloud.meta.error_codes import error_code, is_retryable
from wacloud.meta.outbound import error_text

TOO_MANY_REQUESTS = HTTPStatus.TOO_MANY_REQUESTS.value
# A Retry-After beyond a day is not a wait anyone will do within an invocation or a queue's retries.
MAX_RETRY_AFTER_SECONDS = 86_400.0
# A header value HTTP accepts: no line breaks, no leading whitespace (a token with a line break
# could inject a header of its own).
_HEADER_VALUE = re.compile(r"\S[^\r\n]*")


class GraphApiError(WaCloudError):
    """An answer refused the request: Meta's error object (``{"error": {"code": ...}}``), or an
    HTTP 4xx without one. Nothing was sent.

    ``retryable`` follows Meta's remedy for the code; HTTP 429 is retryable whatever its body.
    ``retry_after`` is the answer's ``Retry-After`` in seconds, when it had a usable one.
    """

    def __init__(self, http_status: int, error: Mapping[str, Any], retry_after: float | None = None) -> None:
        self.http_status = http_status
        self.error = dict(error)
        self.code = error_code(error.get("code"))
        self.retry_after = retry_after
        self.retryable = is_retryable(self.code) or http_status == TOO_MANY_REQUESTS
        text = error_text(error.get("message")) or error_text(error.get("title")) or ""
        super().__init__(f"Graph API error {self.code} (HTTP {http_status}): {text}")


class GraphUnreachableError(WaCloudError):
    """No connection could be made: nothing was sent, and trying again may work."""

    retryable = True


class MediaTooLargeError(WaCloudError):
    """A media download went past the size it may have: stopped before it filled the memory."""


class GraphRequestError(WaCloudError):
    """The request could not be built (an access token or URL HTTP refuses): nothing was sent."""


class GraphOutcomeUnknownError(WaCloudError):
    """The request went out but no usable answer came back: Meta may have accepted it."""


@dataclass(frozen=True)
class GraphEndpoint:
    base_url: str
    version: str
    phone_number_id: str

    @property
    def messages_url(self) -> str:
        return self.messages_url_of(self.phone_number_id)

    def messages_url_of(self, phone_number_id: str) -> str:
        """The ``/messages`` endpoint of one of the business's numbers (this endpoint's by default)."""
        return f"{self.base_url.rstrip('/')}/{self.version}/{phone_number_id}/messages"

    @property
    def media_upload_url(self) -> str:
        return self.media_upload_url_of(self.phone_number_id)

    def media_upload_url_of(self, phone_number_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/{self.version}/{phone_number_id}/media"

    def object_url(self, object_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/{self.version}/{object_id}"

    def templates_url(self, waba_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/{self.version}/{waba_id}/message_templates"


def graph_pool(connections: int = 10) -> urllib3.PoolManager:
    """Connections to the Graph API and Meta's media hosts, kept open across invocations:
    ``connections`` per host (one per request in flight), certificates checked against the CA
    bundle botocore uses for AWS."""
    from botocore.httpsession import where  # noqa: PLC0415 (loaded already, with boto3)

    return urllib3.PoolManager(maxsize=connections, ca_certs=where())


class GraphClient:
    def __init__(
        self,
        pool: urllib3.PoolManager,
        endpoint: GraphEndpoint,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._endpoint = endpoint
        self._timeouts = (connect_timeout, read_timeout)
        # No retries: a request whose outcome is unknown must not go out again unseen (see above).
        # No redirects: a redirect is no answer of the Graph API's (a misconfigured http:// URL, a
        # portal), and followed, the POST would become a GET somewhere else.
        self._options: dict[str, Any] = {
            "timeout": urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            "retries": False,
            "redirect": False,
        }
        self._clock = clock

    @property
    def endpoint(self) -> GraphEndpoint:
        return self._endpoint

    @property
    def max_request_seconds(self) -> float:
        """The longest one request can take before its timeouts end it."""
        return self._timeouts[0] + self._timeouts[1]

    def post_message(
        self, body: dict[str, Any], access_token: str, phone_number_id: str | None = None
    ) -> dict[str, Any]:
        """POST one message body from ``phone_number_id`` (default: the endpoint's number): Meta's
        JSON answer, or one of this module's errors (see above)."""
        url = self._endpoint.messages_url_of(phone_number_id or self._endpoint.phone_number_id)
        try:
            data = json.dumps(body, allow_nan=False).encode()
        except ValueError as exc:
            raise GraphRequestError("the Graph API request cannot be made (InvalidJSONError)") from exc
        return self._json_request("POST", url, access_token, data, "application/json")

    def get_object(self, object_id: str, access_token: str) -> dict[str, Any]:
        """GET a Graph object (a media id: its URL, type, size and sha256)."""
        return self._json_request("GET", self._endpoint.object_url(object_id), access_token)

    def get_page(
        self, url: str, access_token: str, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """GET one page of a Graph API listing (``paging.next`` is the next page's full URL)."""
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        return self._json_request("GET", url, access_token)

    def upload_media(
        self,
        data: bytes,
        mime_type: str,
        filename: str,
        access_token: str,
        phone_number_id: str | None = None,
    ) -> dict[str, Any]:
        """POST a file to the phone number's media, multipart as Meta takes it: ``{"id": ...}``."""
        form, content_type = encode_multipart_formdata(
            [("messaging_product", "whatsapp"), ("type", mime_type), ("file", (filename, data, mime_type))]
        )
        url = self._endpoint.media_upload_url_of(phone_number_id or self._endpoint.phone_number_id)
        return self._json_request("POST", url, access_token, form, content_type)

    def download(self, url: str, access_token: str, max_bytes: int) -> bytes:
        """GET a media download URL with the bearer token: the bytes, at most ``max_bytes`` of them
        (a larger answer is refused as it streams, before it fills the memory)."""
        headers = _authorization(access_token, "the media download")
        try:
            response = self._pool.request(
                "GET",
                _sendable(url, "the media download"),
                headers=headers,
                preload_content=False,
                **self._options,
            )
        except LocationValueError as exc:
            raise GraphRequestError(f"the media download cannot be made ({type(exc).__name__})") from exc
        except HTTPError as exc:
            if never_sent(exc):
                raise GraphUnreachableError(f"media download unreachable ({type(exc).__name__})") from exc
            raise GraphOutcomeUnknownError(f"no answer to the media download ({type(exc).__name__})") from exc
        read = False
        try:
            if response.status != HTTPStatus.OK:
                self._json_answer(response)  # reads it all; raises Meta's error, or the status's
                raise GraphOutcomeUnknownError(f"the media download answered HTTP {response.status}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.stream(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise MediaTooLargeError(f"the media download is larger than {max_bytes} bytes")
                chunks.append(chunk)
            read = True
            return b"".join(chunks)
        except HTTPError as exc:
            raise GraphOutcomeUnknownError(f"no answer to the media download ({type(exc).__name__})") from exc
        finally:
            # Read to its end, the connection is kept for the next request; left mid-way, closed.
            if not read and response.status == HTTPStatus.OK:
                response.close()
            response.release_conn()

    def _json_request(
        self, method: str, url: str, access_token: str, body: bytes | None = None, content_type: str = ""
    ) -> dict[str, Any]:
        headers = _authorization(access_token, "the Graph API request")
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self._pool.request(
                method, _sendable(url, "the Graph API request"), body=body, headers=headers, **self._options
            )
        except LocationValueError as exc:
            raise GraphRequestError(f"the Graph API request cannot be made ({type(exc).__name__})") from exc
        except HTTPError as exc:
            if never_sent(exc):
                raise GraphUnreachableError(f"Graph API unreachable ({type(exc).__name__})") from exc
            raise GraphOutcomeUnknownError(f"no answer from the Graph API ({type(exc).__name__})") from exc
        return self._json_answer(response)

    def _json_answer(self, response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
        try:
            payload = json.loads(response.data)
        except ValueError:  # not JSON, or bytes that are not text
            payload = None
        status = response.status
        error = payload.get("error") if isinstance(payload, dict) else None
        # A 3xx or 4xx refuses the request as it stands, whoever answers: it was not processed.
        if 300 <= status < 500 or isinstance(error, dict):
            if not isinstance(error, dict):
                error = {"code": -1, "message": f"HTTP {status}{_phrase(status)} without a Graph API error"}
            raise GraphApiError(status, error, self._retry_after(response))
        if status >= 500 or not isinstance(payload, dict):
            raise GraphOutcomeUnknownError(f"the Graph API answered HTTP {status} without a usable body")
        return payload

    def _retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        return retry_after_seconds(response.headers.get("Retry-After"), self._clock())


def _phrase(status: int) -> str:
    try:
        return f" {HTTPStatus(status).phrase}"
    except ValueError:
        return ""


def _authorization(access_token: str, what: str) -> dict[str, str]:
    value = f"Bearer {access_token}"
    if not _HEADER_VALUE.fullmatch(value):
        raise GraphRequestError(f"{what} cannot be made (InvalidHeader)")
    return {"Authorization": value}


def _sendable(url: str, what: str) -> str:
    # urllib3 would take a URL without a scheme for http://: an http(s) URL or nothing.
    if not url[:8].lower().startswith(("https://", "http://")):
        raise GraphRequestError(f"{what} cannot be made (InvalidSchema)")
    return url


def never_sent(exc: BaseException) -> bool:
    """Whether ``exc`` happened before the request could reach the server.

    Without retries, urllib3 reports a failure to connect as a connect timeout or a new-connection
    error (refused, unresolvable; both are ConnectTimeoutErrors), or, after retries, a
    MaxRetryError whose reason is one; a certificate is verified in the TLS handshake, before the
    request is written. Anything later, a dropped connection included, may have reached Meta.
    """
    reason: BaseException | None = exc.reason if isinstance(exc, MaxRetryError) else exc
    if isinstance(reason, ConnectTimeoutError):
        return True
    while reason is not None:
        if isinstance(reason, ssl.SSLCertVerificationError):
            return True
        reason = reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
    return False


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """An HTTP ``Retry-After`` (seconds, or an HTTP date) as seconds from ``now``; None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value) if value.isascii() and value.replace(".", "", 1).isdigit() else None
        if seconds is None:
            when = parsedate_to_datetime(value)
            # HTTP dates are in GMT; a date without a zone would otherwise be read as local time.
            seconds = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() - now
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)
