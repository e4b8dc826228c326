"""The access token the sender sends with, and what Meta said about it.

Meta answers 190 when the token expired or was revoked: only a new token in the secret helps.
The secret is read again once (the cached token may be the stale one); if it still holds the
token Meta refused, the token is remembered as refused, and until the secret changes:

- later sends fail at once without a request, since each would be refused again and Meta
  counts them against the app;
- the secret is read again at most once per :data:`RECHECK_SECONDS` (the credentials cache's own
  limit on forced reads), so a replaced token is picked up within that time;
- one request per :data:`RECHECK_SECONDS` still goes out with the refused token, in case Meta
  refused it by mistake and accepts it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from wacloud.core.errors import WaCloudError

RECHECK_SECONDS = 30.0


class _Credentials(Protocol):
    @property
    def access_token(self) -> str: ...


class CredentialSource(Protocol):
    """What the sender needs of the credentials cache."""

    def get(self) -> _Credentials: ...

    def refresh(self) -> _Credentials: ...


class AccessTokenRejected(WaCloudError):
    """Meta refused the access token (190) and the secret holds no other: the work is kept for a
    later retry (queue redelivery, Lambda's retries of an asynchronous event)."""

    retryable = True


class AccessTokens:
    def __init__(
        self,
        credentials: CredentialSource,
        clock: Callable[[], float] = time.monotonic,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._recheck = recheck_seconds
        self._refused: str | None = None
        self._checked_at = float("-inf")
        # The sender sends several records at once: one of them decides each recheck.
        self._lock = threading.Lock()

    def for_request(self) -> str | None:
        """The token to send with, or None while the secret holds only a token Meta refused."""
        token = _token(self._credentials.get())
        if token != self._refused:
            return token
        with self._lock:
            token = _token(self._credentials.refresh())
            if token != self._refused:
                return token
            now = self._clock()
            if now - self._checked_at >= self._recheck:
                self._checked_at = now
                return token
            return None

    def refused(self, token: str) -> bool:
        """Meta answered 190 for ``token``: whether the secret now holds another one to try."""
        with self._lock:
            if _token(self._credentials.refresh()) != token:
                return True
            self._refused = token
            self._checked_at = self._clock()
            return False

    def accepted(self, token: str) -> None:
        """Meta accepted a request sent with ``token``."""
        if token == self._refused:
            self._refused = None


def _token(credentials: _Credentials) -> str:
    # A token pasted with a trailing newline would make every request unsendable (HTTP refuses
    # control characters in a header); Meta's tokens hold no whitespace.
    return credentials.access_token.strip()
