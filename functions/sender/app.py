"""Sender function: sends Cloud API messages given by direct invocation, and records them."""

from __future__ import annotations

import os
from typing import Any

import boto3
import requests

from wacloud.credentials import CredentialsCache
from wacloud.graph_client import GraphClient, GraphEndpoint
from wacloud.observability import logger
from wacloud.outbound.models import SendRequestError, parse_send_request
from wacloud.sending import MessageSender
from wacloud.settings import SenderSettings
from wacloud.store import ConversationStore

settings = SenderSettings.from_env(os.environ)
sender = MessageSender(
    graph=GraphClient(
        requests.Session(),
        GraphEndpoint(settings.graph_api_url, settings.graph_api_version, settings.phone_number_id),
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
    ),
    credentials=CredentialsCache(
        boto3.client("secretsmanager"), settings.secret_arn, settings.secret_max_age_seconds
    ),
    store=ConversationStore(boto3.resource("dynamodb").Table(settings.table_name)),
)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        items = parse_send_request(event)
    except SendRequestError as exc:
        logger.warning("invalid send request", extra={"problems": [str(p) for p in exc.problems]})
        return {
            "error": {
                "type": "InvalidRequest",
                "message": str(exc),
                "problems": [{"field": p.loc, "rule": p.msg} for p in exc.problems],
            }
        }
    return sender.send_all(items).model_dump(mode="json")
