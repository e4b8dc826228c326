"""Media function: keeps the media of each received message in the payload bucket.

Subscribed to ``WhatsApp Message Received`` events of media types on the stack's bus, invoked
asynchronously: a failure is retried by Lambda and then kept on the media dead-letter queue with
its reason (the template's EventInvokeConfig).
"""

# ruff: noqa: E402 (the imports follow gc.disable(), see functions/processor/app.py)
from __future__ import annotations

import gc

gc.disable()

import os
from typing import Any

import boto3

from wacloud.core.aws import client_config
from wacloud.core.credentials import AccessToken, CredentialsCache
from wacloud.core.observability import logger
from wacloud.core.settings import MediaSettings
from wacloud.media.job import RecordedMedia, job_of
from wacloud.media.keeper import Backoff, MediaKeeper
from wacloud.meta.access_token import AccessTokens
from wacloud.meta.graph_client import GraphClient, GraphEndpoint, graph_pool
from wacloud.table.media import MediaLedger

AWS_CONFIG = client_config()
settings = MediaSettings.from_env(os.environ)
keeper = MediaKeeper(
    graph=GraphClient(
        graph_pool(),
        # Media are read by their ids: no phone number in these paths.
        GraphEndpoint(settings.graph_api_url, settings.graph_api_version, phone_number_id=""),
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
    ),
    # The sender's secret and token cache: one token, refused or not, for everything sent to Meta.
    tokens=AccessTokens(
        CredentialsCache(
            boto3.client("secretsmanager", config=AWS_CONFIG),
            settings.secret_arn,
            AccessToken.from_secret_string,
            max_age_seconds=settings.secret_max_age_seconds,
        )
    ),
    s3=boto3.client("s3", config=AWS_CONFIG),
    bucket=settings.media_bucket,
    ledger=MediaLedger(boto3.resource("dynamodb", config=AWS_CONFIG).Table(settings.table_name)),
    backoff=Backoff(attempts=settings.download_attempts, base_seconds=settings.backoff_base_seconds),
)

gc.freeze()
gc.enable()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job = job_of(event)
    logger.append_keys(wamid=job.wamid, event_id=event.get("id"))
    if isinstance(job, RecordedMedia):
        outcome = keeper.restore(job)
    else:
        # Keeps 5 s to record the outcome and answer.
        outcome = keeper.keep(job, lambda: context.get_remaining_time_in_millis() / 1000 - 5.0)
    record = outcome.record
    facts = {"size": record.size, "reason": record.reason} if record else {}
    logger.info("media " + outcome.result, extra={"type": job.type, **facts})
    return {"result": outcome.result, "s3_uri": record.s3_uri if record else None}
