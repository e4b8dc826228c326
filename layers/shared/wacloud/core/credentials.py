"""The WhatsApp credentials, read from one Secrets Manager secret and cached with a TTL.

The secret is a JSON object with the keys ``app_secret``, ``verify_token`` and ``access_token``.
Values never appear in ``repr``, logs or error messages.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wacloud.core.errors import SecretFormatError, SecretUnavailableError

SECRET_KEYS = ("app_secret", "verify_token", "access_token")

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True)
class WhatsAppCredentials:
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    access_token: str = field(repr=False)

    @classmethod
    def from_secret_string(cls, secret_string: str) -> WhatsAppCredentials:
        try:
            data = json.loads(secret_string)
        except ValueError as exc:
            raise SecretFormatError("the WhatsApp secret is not a JSON object") from exc
        if not isinstance(data, dict):
            raise SecretFormatError("the WhatsApp secret is not a JSON object")
        missing = [key for key in SECRET_KEYS if not isinstance(data.get(key), str) or not data[key]]
        if missing:
            raise SecretFormatError(f"the WhatsApp secret lacks non-empty string keys: {', '.join(missing)}")
        return cls(data["app_secret"], data["verify_token"], data["access_token"])


class CredentialsCache:
    """Reads the secret at most once per ``max_age_seconds`` (and again on demand).

    Fetching per request would add latency to every webhook and cost money; caching forever would
    keep a rotated or refreshed token out of reach until the next cold start.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        max_age_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        min_refresh_seconds: float = 30.0,
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: WhatsAppCredentials | None = None
        self._fetched_at = 0.0
        self._refreshed_at = float("-inf")

    def get(self) -> WhatsAppCredentials:
        with self._lock:
            if self._value is None or self._clock() - self._fetched_at >= self._max_age:
                self._load()
            assert self._value is not None
            return self._value

    def refresh(self) -> WhatsAppCredentials:
        """Read the secret again, for example after Meta rejected the cached access token.

        At most once per ``min_refresh_seconds`` (reads on expiry do not count): a token that
        stays rejected, or forged signatures arriving by the thousand, must not turn into one
        Secrets Manager call each (throttled per account, and billed). Within that interval the
        cached value is returned: compare it with the one that failed to know whether trying
        again can help.
        """
        with self._lock:
            now = self._clock()
            if self._value is not None and now - self._refreshed_at < self._min_refresh:
                return self._value
            self._refreshed_at = now
            self._load()
            assert self._value is not None
            return self._value

    def _load(self) -> None:
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id)
        except Exception as exc:
            # Only the exception type is kept: botocore messages can echo request parameters.
            raise SecretUnavailableError(
                f"could not read the WhatsApp secret ({type(exc).__name__})"
            ) from exc
        self._value = WhatsAppCredentials.from_secret_string(response.get("SecretString") or "")
        self._fetched_at = self._clock()
