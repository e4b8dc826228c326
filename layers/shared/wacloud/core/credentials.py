"""The WhatsApp credentials, each function's from its own Secrets Manager secret, cached with a TTL.

Two secrets, so that IAM can give each function only what it uses: the webhook's holds what
verifies Meta's webhooks (``app_secret``, ``verify_token``, and ``previous_app_secret`` while a
rotation is under way); the sender's holds the Graph API ``access_token``. Values never appear in
``repr``, logs or error messages.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from wacloud.core.errors import SecretFormatError, SecretUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

T = TypeVar("T")


def _secret_object(secret_string: str, what: str, required: tuple[str, ...]) -> Mapping[str, Any]:
    try:
        data = json.loads(secret_string)
    except ValueError as exc:
        raise SecretFormatError(f"the {what} secret is not a JSON object") from exc
    if not isinstance(data, dict):
        raise SecretFormatError(f"the {what} secret is not a JSON object")
    missing = [key for key in required if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise SecretFormatError(f"the {what} secret lacks non-empty string keys: {', '.join(missing)}")
    return data


@dataclass(frozen=True)
class WebhookCredentials:
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    previous_app_secret: str | None = field(default=None, repr=False)
    """Still accepted while Meta may sign with it (a rotation); removed from the secret afterwards."""

    @property
    def app_secrets(self) -> tuple[str, ...]:
        """The secrets a webhook signature may be made with, the current one first."""
        if self.previous_app_secret and self.previous_app_secret != self.app_secret:
            return (self.app_secret, self.previous_app_secret)
        return (self.app_secret,)

    @classmethod
    def from_secret_string(cls, secret_string: str) -> WebhookCredentials:
        data = _secret_object(secret_string, "webhook", ("app_secret", "verify_token"))
        previous = data.get("previous_app_secret")
        if previous is not None and not isinstance(previous, str):
            raise SecretFormatError("the webhook secret's previous_app_secret is not a string")
        return cls(data["app_secret"], data["verify_token"], previous or None)


@dataclass(frozen=True)
class AccessToken:
    access_token: str = field(repr=False)

    @classmethod
    def from_secret_string(cls, secret_string: str) -> AccessToken:
        return cls(_secret_object(secret_string, "access token", ("access_token",))["access_token"])


class CredentialsCache(Generic[T]):
    """Reads the secret at most once per ``max_age_seconds`` (and again on demand).

    Fetching per request would add latency to every webhook and cost money; caching forever would
    keep a rotated or refreshed token out of reach until the next cold start.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        parse: Callable[[str], T],
        *,
        max_age_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        min_refresh_seconds: float = 30.0,
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._parse = parse
        self._max_age = max_age_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._fetched_at = 0.0
        self._refreshed_at = float("-inf")

    def get(self) -> T:
        with self._lock:
            if self._value is None or self._clock() - self._fetched_at >= self._max_age:
                self._load()
            assert self._value is not None
            return self._value

    def refresh(self) -> T:
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

    def accepted(self, accepts: Callable[[T], bool]) -> bool:
        """Whether ``accepts`` holds for the cached value or, failing that, for the secret read again.

        The re-read is :meth:`refresh`'s, so at most once per ``min_refresh_seconds``: a value just
        changed in Secrets Manager (a rotated app secret, a new verify token) takes effect at once,
        and a stream of wrong values costs no more reads than that.
        """
        cached = self.get()
        if accepts(cached):
            return True
        fresh = self.refresh()
        return fresh is not cached and accepts(fresh)

    def _load(self) -> None:
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id)
        except Exception as exc:
            # Only the exception type is kept: botocore messages can echo request parameters.
            raise SecretUnavailableError(
                f"could not read the secret {self._secret_id} ({type(exc).__name__})"
            ) from exc
        self._value = self._parse(response.get("SecretString") or "")
        self._fetched_at = self._clock()
