"""The one logger of the functions (its service name comes from POWERTOOLS_SERVICE_NAME), and
what a log line may say about a failure."""

from __future__ import annotations

import traceback
from typing import Any

from aws_lambda_powertools.logging import Logger

from wacloud.core.errors import WaCloudError

logger = Logger()

_MAX_CHAIN = 5


def failure_fields(exc: BaseException) -> dict[str, Any]:
    """The failure as log fields, without the messages of foreign exceptions.

    ``logger.exception`` would print the whole chain, and botocore's and requests' messages can
    echo request parameters (a secret's value, a token in a URL). The project's own errors word
    their messages to be safe to log; for any other exception only its type is kept. The stack
    is kept as ``file:line in function`` frames, which is what finding the fault needs.
    """
    chain: list[dict[str, Any]] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < _MAX_CHAIN:
        link: dict[str, Any] = {"type": type(current).__name__}
        if isinstance(current, WaCloudError):
            link["message"] = str(current)
        link["stack"] = [
            f"{frame.filename}:{frame.lineno} in {frame.name}"
            for frame in traceback.extract_tb(current.__traceback__)
        ]
        chain.append(link)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return {"error": chain[0]["type"], "error_message": chain[0].get("message", ""), "error_chain": chain}


def log_failure(message: str, exc: BaseException, **extra: Any) -> None:
    """Log ``message`` at ERROR with :func:`failure_fields` of ``exc`` (instead of ``logger.exception``)."""
    # stacklevel: the line is located where the failure was caught, not here.
    logger.error(message, extra={**extra, **failure_fields(exc)}, stacklevel=3)
