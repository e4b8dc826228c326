"""Reply bot (an example consumer of the stack's events): answers received messages through the sender.

Subscribed to ``WhatsApp Message Received`` on the stack's bus; puts its answer on the same bus
as a ``WhatsApp Send Request``, the way any service of the business sends (docs/sender.md).
"""

# ruff: noqa: E402 (the imports follow gc.disable(), see functions/processor/app.py)
from __future__ import annotations

import gc

gc.disable()

import json
import os
import time
from typing import Any

import boto3

from wacloud.core.aws import client_config
from wacloud.core.errors import WaCloudError
from wacloud.core.observability import logger
from wacloud.core.settings import ReplyBotSettings
from wacloud.events.models import MessageReceived
from wacloud.events.replybot import reply_to

settings = ReplyBotSettings.from_env(os.environ)
events = boto3.client("events", config=client_config())

gc.freeze()
gc.enable()


class AnswerNotQueuedError(WaCloudError):
    """EventBridge did not take the answer; the invocation fails, and Lambda retries it."""

    retryable = True


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    message = MessageReceived.model_validate(event["detail"])
    request = reply_to(message, time.time(), settings.quiet_words)
    if request is None:
        logger.info("no answer", extra={"wamid": message.wamid, "type": message.type})
        return {"answered": False}
    answer = events.put_events(
        Entries=[
            {
                "EventBusName": settings.event_bus_name,
                "Source": settings.send_request_source,
                "DetailType": "WhatsApp Send Request",
                "Detail": json.dumps(request),
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        raise AnswerNotQueuedError(str(answer["Entries"][0].get("ErrorCode")))
    logger.info("answer queued", extra={"wamid": message.wamid})
    return {"answered": True}
