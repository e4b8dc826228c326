"""How the functions' boto3 clients talk to AWS: explicit timeouts and standard retries.

botocore's defaults (60 s connect and read timeouts, "legacy" retries) suit long-running
programs, not a function with a 10 s budget: one stalled connection would use all of it. The
standard mode retries throttling and transient errors with jittered backoff and a bounded quota.
"""

from __future__ import annotations

from botocore.config import Config

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 3


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
    )
