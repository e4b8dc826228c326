"""Publisher function: the table's stream, published on the project's event bus as typed events."""

# ruff: noqa: E402 (the imports follow gc.disable(), see functions/processor/app.py)
from __future__ import annotations

import gc

gc.disable()

import os
from typing import Any

import boto3

from wacloud.core.aws import client_config
from wacloud.core.metrics import metrics
from wacloud.core.observability import logger
from wacloud.core.settings import PublisherSettings
from wacloud.core.sqs_batch import PartialBatchResponse
from wacloud.events.publish import EventPublisher
from wacloud.events.stream_batch import publish_stream_batch

settings = PublisherSettings.from_env(os.environ)
# The publisher retries failed entries itself, with backoff, and reports what still fails to
# Lambda, which retries the records: botocore's own retries would only stack on top.
publisher = EventPublisher(
    boto3.client("events", config=client_config(max_attempts=2)), settings.event_bus_name
)

gc.freeze()
gc.enable()


@logger.inject_lambda_context(clear_state=True)
@metrics.published
def handler(event: dict[str, Any], context: Any) -> PartialBatchResponse:
    return publish_stream_batch(event, publisher)
