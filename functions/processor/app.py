"""Processor function: stores every update of each queued webhook; failed records are retried alone."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from wacloud.core.aws import client_config
from wacloud.core.observability import log_failure, logger
from wacloud.core.settings import ProcessorSettings
from wacloud.processor.updates import WebhookProcessor
from wacloud.table.store import ConversationStore
from wacloud.webhook.envelope import QueuedWebhook

AWS_CONFIG = client_config()
settings = ProcessorSettings.from_env(os.environ)
processor = WebhookProcessor(
    store=ConversationStore(boto3.resource("dynamodb", config=AWS_CONFIG).Table(settings.table_name)),
    s3_factory=lambda: boto3.client("s3", config=AWS_CONFIG),
    settings=settings,
)
# Report every failed record, even when all fail, instead of failing the invocation: the
# outcome is the same (all redelivered) without an error that looks like a crash.
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    webhook = QueuedWebhook.from_lambda_record(record.raw_event)
    logger.append_keys(sqs_message_id=webhook.message_id, request_id=webhook.request_id)
    try:
        summary = processor.process(webhook)
    except Exception as exc:
        # Logged here, where the record is known: it will be retried, and dead-lettered after
        # maxReceiveCount, so operators need to see why.
        log_failure("webhook not stored; the record will be retried", exc)
        raise
    logger.info(
        "webhook stored",
        extra={
            "messages": summary.messages,
            "statuses": summary.statuses,
            "other_changes": summary.other_changes,
            "duplicate": summary.duplicate,
        },
    )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=batch, context=context
    )
