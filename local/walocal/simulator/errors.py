"""Graph API errors in Meta's shape: ``{"error": {"message", "type", "code", ..., "fbtrace_id"}}``."""

from __future__ import annotations

import secrets
from typing import Any

ERROR_CODES_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


def fbtrace_id() -> str:
    return secrets.token_urlsafe(16)[:27]


class GraphError(Exception):
    """An answer the Cloud API gives instead of accepting a request."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        http_status: int = 400,
        error_type: str = "OAuthException",
        subcode: int | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.error_type = error_type
        self.subcode = subcode
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def invalid_token() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token", http_status=401)


def expired_token() -> GraphError:
    return GraphError(
        190,
        "Error validating access token: Session has expired. The current time is after the expiry time.",
        http_status=401,
        subcode=463,
    )


def unknown_object(object_id: str, method: str = "post") -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        error_type="GraphMethodException",
        subcode=33,
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(2500, f"Unknown path components: {path}")


def missing_parameter(name: str) -> GraphError:
    return GraphError(100, f"(#100) The parameter {name} is required.")


def invalid_parameter(name: str, reason: str) -> GraphError:
    return GraphError(100, f"(#100) Param {name} {reason}", details=f"Invalid value for {name}")


def rate_limited(http_status: int) -> GraphError:
    return GraphError(
        130429,
        "(#130429) Rate limit hit",
        http_status=http_status,
        details="Cloud API message throughput has been reached.",
    )


def pair_rate_limited() -> GraphError:
    return GraphError(
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        details="Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    )


def template_missing(name: str, language: str) -> GraphError:
    return GraphError(
        132001,
        "(#132001) Template name does not exist in the translation",
        details=f"template name ({name}) does not exist in {language}",
    )


def parameter_count(component: str, received: int, expected: int) -> GraphError:
    return GraphError(
        132000,
        "(#132000) Number of parameters does not match the expected number of params",
        details=f"{component}: number of localizable_params ({received}) does not match the expected "
        f"number of params ({expected})",
    )


def card_count(received: int, expected: int) -> GraphError:
    return GraphError(
        132000,
        "(#132000) Number of parameters does not match the expected number of params",
        details=f"carousel: number of cards ({received}) does not match the expected number of cards "
        f"({expected})",
    )


def parameter_format(component: str, expected: str, received: str) -> GraphError:
    return GraphError(
        132012,
        "(#132012) Parameter format does not match format in the created template",
        details=f"{component}: Format mismatch, expected {expected.upper()}, received {received.upper()}",
    )


def injected_failure(code: int) -> GraphError:
    messages = {
        1: "An unknown error occurred",
        2: "An unexpected error has occurred. Please retry your request later.",
    }
    return GraphError(code, messages.get(code, "An unknown error occurred"), http_status=500)


def status_error(code: int, title: str, details: str) -> dict[str, Any]:
    """The ``errors[]`` item of a ``failed`` status webhook."""
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": ERROR_CODES_HREF,
    }


def reengagement_error() -> dict[str, Any]:
    return status_error(
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
    )


def undeliverable_error() -> dict[str, Any]:
    return status_error(131026, "Message undeliverable", "Message Undeliverable.")


def template_paused(name: str, language: str) -> GraphError:
    return GraphError(
        132015,
        "(#132015) Template is paused",
        details=f"template {name} ({language}) is paused due to low quality",
    )


def template_disabled(name: str, language: str) -> GraphError:
    return GraphError(
        132016,
        "(#132016) Template is disabled",
        details=f"template {name} ({language}) has been disabled",
    )
