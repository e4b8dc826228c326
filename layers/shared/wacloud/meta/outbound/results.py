"""What the sender answers: the outcome of each item, and why Meta refused one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wacloud.meta.error_codes import error_code, is_retryable

STATUS_FAILED = "failed"
MAX_ERROR_TEXT = 1000


class SendError(BaseModel):
    """Why Meta refused a message, and whether the same request may succeed later."""

    model_config = ConfigDict(frozen=True)

    code: int
    title: str | None = None
    message: str | None = None
    details: str | None = None
    retryable: bool
    hint: str | None = Field(default=None, description="What to do about it, when the sender knows.")
    retry_after_seconds: int | None = Field(
        default=None, description="For a retryable error: the earliest sensible retry, when known."
    )

    @classmethod
    def from_graph(cls, error: Mapping[str, Any]) -> SendError:
        """From Meta's error object, as in a Graph API error answer or a ``failed`` status webhook.

        A code that is not a number (or digits) becomes -1, which no remedy lists: not retried.
        The texts are Meta's strings; anything else in their place is kept as compact JSON, so
        that no answer, however odd, can stop the sender from settling the item.
        """
        code = error_code(error.get("code"))
        data = error.get("error_data")
        return cls(
            code=code,
            title=error_text(error.get("title")) or error_text(error.get("error_user_title")),
            message=error_text(error.get("message")) or error_text(error.get("error_user_msg")),
            details=error_text(data.get("details") if isinstance(data, Mapping) else data),
            retryable=is_retryable(code),
        )


def error_text(value: object) -> str | None:
    """A field of an error as text of at most :data:`MAX_ERROR_TEXT` characters (None when empty).

    Errors are stored with the failed send and returned to callers: a value of any size or type
    must fit in a table item and in the answer.
    """
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "\u2026"


class SendResult(BaseModel):
    """The outcome of one item, in the order of the request.

    ``status`` is Meta's ``message_status`` (``accepted``, ``held_for_quality_assessment``, ...)
    for an accepted message, ``read`` for an acknowledged mark-as-read and ``failed`` with
    ``error`` set when Meta refused the request. Acceptance is not delivery: that arrives later
    in status webhooks.
    """

    model_config = ConfigDict(frozen=True)

    to: str | None
    message_id: str | None = None
    status: str
    error: SendError | None = None


class SendResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: list[SendResult]
