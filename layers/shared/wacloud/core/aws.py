"""How the functions' boto3 clients talk to AWS: explicit timeouts and standard retries.

botocore's defaults (60 s connect and read timeouts, "legacy" retries) suit long-running
programs, not a function with a 10 s budget: one stalled connection would use all of it. The
standard mode retries throttling and transient errors with jittered backoff and a bounded quota.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from botocore.config import Config

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 3
# botocore rebuilds its User-Agent header on every request (a string of a dozen components, each
# sanitised character by character: a tenth to a fifth of a DynamoDB call's CPU). Given a fixed
# one, it only joins it with the SDK's version.
USER_AGENT = "wacloud"


def client_config(
    *,
    read_timeout: float = READ_TIMEOUT_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    max_pool_connections: int = 10,
) -> Config:
    return Config(
        max_pool_connections=max_pool_connections,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
        tcp_keepalive=True,
        # botocore checks each request against the service model, in Python, before sending it:
        # a walk of every parameter, several per cent of a call's CPU. The requests here are built
        # by code, not typed by callers, and AWS validates them anyway (a ValidationException is
        # an error all the same), so the check only costs time on every call.
        parameter_validation=False,
        user_agent=USER_AGENT,
    )


class Lazy(Generic[T]):
    """A client made on first use, once, however many threads ask at the same moment.

    For a client few invocations need: creating a boto3 client loads its service model, tens of
    milliseconds of a cold start that most instances would never use. Creating clients from one
    session in several threads at once is not safe, hence the lock.
    """

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._made: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        with self._lock:
            if self._made is None:
                self._made = self._make()
            return self._made
