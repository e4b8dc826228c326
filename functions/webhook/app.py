"""Webhook function: Meta's handshake (GET) and signed webhook deliveries (POST) from the HTTP API.

Lean on purpose: Meta expects a median answer under 250 ms, so the cold path imports boto3, the
logger and the project's small intake modules, and nothing else.
"""

# ruff: noqa: E402 (the imports follow gc.disable(), see below)
from __future__ import annotations

import gc

# The imports below (boto3's service models above all) allocate a great many objects that live
# as long as the process; the cyclic collector would walk them again and again while they are
# created, for nothing. It is off until the module is initialised, then the survivors are frozen
# out of its generations.
gc.disable()

import os
from typing import Any

import boto3

from wacloud.core.aws import client_config
from wacloud.core.credentials import CredentialsCache, WebhookCredentials
from wacloud.core.errors import WaCloudError
from wacloud.core.metrics import metrics
from wacloud.core.observability import log_failure, logger
from wacloud.core.settings import WebhookSettings
from wacloud.meta.signature import SIGNATURE_HEADER
from wacloud.webhook.intake import WebhookIntake
from wacloud.webhook.request import BadRequest, HttpRequest

# Meta waits a few seconds at most, and retries whatever is not a 200: fail fast, let it retry.
AWS_CONFIG = client_config(read_timeout=2.0, max_attempts=2)
settings = WebhookSettings.from_env(os.environ)
intake = WebhookIntake(
    credentials=CredentialsCache(
        boto3.client("secretsmanager", config=AWS_CONFIG),
        settings.secret_arn,
        WebhookCredentials.from_secret_string,
        max_age_seconds=settings.secret_max_age_seconds,
    ),
    sqs=boto3.client("sqs", config=AWS_CONFIG),
    s3_factory=lambda: boto3.client("s3", config=AWS_CONFIG),
    queue_url=settings.queue_url,
    payload_bucket=settings.payload_bucket,
)

# Initialised: what exists now lives as long as the process, so collections need not scan it.
gc.freeze()
gc.enable()


def _response(status: int, body: str = "") -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "text/plain; charset=utf-8"}, "body": body}


@logger.inject_lambda_context(clear_state=True)
@metrics.published
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        request = HttpRequest.from_event(event)
    except BadRequest as exc:
        logger.warning("webhook request unreadable", extra={"reason": exc.reason})
        metrics.count("WebhooksRejected", reason="request")
        return _response(400, "Bad request")
    logger.append_keys(request_id=request.request_id)
    try:
        return _answer(request)
    except WaCloudError as exc:
        # Not 200, so Meta retries: a webhook we could not queue is delivered again later.
        log_failure("webhook not accepted", exc)
        metrics.count("WebhooksNotQueued")
        return _response(503 if exc.retryable else 500, "Temporarily unavailable")
    except Exception as exc:
        # A fault of ours, not the client's: answer 500 so Meta delivers it again.
        log_failure("webhook handler failed", exc)
        metrics.count("WebhooksNotQueued")
        return _response(500, "Internal error")


def _answer(request: HttpRequest) -> dict[str, Any]:
    if request.method == "GET":
        challenge = intake.handshake(request.query)
        if challenge is None:
            logger.warning("webhook verification refused")
            metrics.count("HandshakesRefused")
            return _response(403, "Forbidden")
        return _response(200, challenge)
    if request.method == "POST":
        body = request.body
        if not intake.is_authentic(body, request.headers.get(SIGNATURE_HEADER)):
            logger.warning("webhook signature missing or invalid", extra={"bytes": len(body)})
            metrics.count("WebhooksRejected", reason="signature")
            return _response(401, "Invalid signature")
        message_id = intake.enqueue(body, request.request_id, request.received_at_ms, request.text)
        metrics.count("WebhooksReceived")
        # DEBUG: one line per request costs formatting CPU and CloudWatch ingestion ($0.50 per GB)
        # for what the API's access log and the queue's metrics already tell; failures stay loud.
        logger.debug("webhook queued", extra={"sqs_message_id": message_id, "bytes": len(body)})
        return _response(200, "OK")
    return _response(405, "Method not allowed")
