"""The errors wactl reports to the operator (one line, no traceback) instead of crashing."""

from __future__ import annotations

from typing import Any


class WactlError(Exception):
    """A command cannot do its job; the message says why and, when it can, what to check."""


def reason(exc: Exception) -> str:
    """An AWS error in one line: its code and message, without the request id noise."""
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    if error:
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    return str(exc) or type(exc).__name__
