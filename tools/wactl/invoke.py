"""Invoking the sender function synchronously: through the local runtime's Invoke API, or Lambda."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, ReadTimeoutError

from wactl.errors import WactlError, reason
from wactl.target import Target


class InvokeError(WactlError):
    """The function could not be invoked, or failed; the message says whether anything was sent."""


@dataclass(frozen=True)
class Invocation:
    function: str
    answer: Any


def invoke_sender(target: Target, event: Any) -> Invocation:
    function = target.sender_function
    where = target.invoke_url or target.endpoint_url or "Lambda"
    try:
        response = target.lambda_client().invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode("utf-8"),
        )
    except EndpointConnectionError as exc:
        hint = "; is it running (make run)?" if target.is_local else ""
        raise InvokeError(f"cannot reach {where} to invoke {function} ({exc}){hint}") from exc
    except ReadTimeoutError as exc:
        # The request reached the function: it may have sent before the answer was lost.
        raise InvokeError(
            f"no answer from {function} in time ({exc}); it may have sent, so check before retrying "
            "(wactl conversation, wactl failed)"
        ) from exc
    except (BotoCoreError, ClientError) as exc:
        raise InvokeError(f"cannot invoke {function} at {where} ({reason(exc)})") from exc
    raw = response["Payload"].read()
    try:
        answer = json.loads(raw) if raw else None
    except ValueError:
        raise InvokeError(f"{function} answered with something that is not JSON: {raw[:200]!r}") from None
    if "FunctionError" in response:
        detail = answer if isinstance(answer, dict) else {}
        raise InvokeError(
            f"{function} failed: {detail.get('errorType', response['FunctionError'])}: "
            f"{detail.get('errorMessage', raw[:200].decode('utf-8', errors='replace'))}"
        )
    return Invocation(function=function, answer=answer)
