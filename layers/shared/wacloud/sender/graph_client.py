"""The Cloud API's ``/messages`` endpoint over HTTP, with timeouts and Meta's errors typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from wacloud.core.errors import WaCloudError
from wacloud.meta.error_codes import is_retryable


class GraphApiError(WaCloudError):
    """Meta answered with an error object (``{"error": {"code": ..., ...}}``)."""

    def __init__(self, http_status: int, error: dict[str, Any]) -> None:
        self.http_status = http_status
        self.error = error
        self.code = int(error.get("code", -1)) if str(error.get("code", "")).lstrip("-").isdigit() else -1
        self.retryable = is_retryable(self.code)
        super().__init__(f"Graph API error {self.code}: {error.get('message') or error.get('title') or ''}")


class GraphTransportError(WaCloudError):
    """No usable answer (timeout, connection error, 5xx without an error object): worth retrying."""

    retryable = True


@dataclass(frozen=True)
class GraphEndpoint:
    base_url: str
    version: str
    phone_number_id: str

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.version}/{self.phone_number_id}/messages"


class GraphClient:
    def __init__(
        self,
        session: requests.Session,
        endpoint: GraphEndpoint,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._endpoint = endpoint
        self._timeout = (connect_timeout, read_timeout)

    @property
    def endpoint(self) -> GraphEndpoint:
        return self._endpoint

    @property
    def max_request_seconds(self) -> float:
        """The longest one request can take before its timeouts end it."""
        return self._timeout[0] + self._timeout[1]

    def post_message(self, body: dict[str, Any], access_token: str) -> dict[str, Any]:
        """POST one message body; Meta's JSON answer, or GraphApiError / GraphTransportError."""
        try:
            response = self._session.post(
                self._endpoint.messages_url,
                json=body,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise GraphTransportError(f"Graph API unreachable ({type(exc).__name__})") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            raise GraphApiError(response.status_code, payload["error"])
        if response.status_code >= 500 or not isinstance(payload, dict):
            raise GraphTransportError(f"Graph API answered HTTP {response.status_code} without a usable body")
        if response.status_code >= 400:
            raise GraphApiError(response.status_code, {"code": -1, "message": f"HTTP {response.status_code}"})
        return payload
