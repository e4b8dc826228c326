"""Processor function: stores every update of each queued webhook; failed records are retried alone."""

# ruff: noqa: E402 (the imports follow gc.disable(), see below)
from __future__ import annotations

import gc

# The imports below (boto3's and pydantic's models above all) allocate hundreds of thousands of
# objects that live as long as the process; the cyclic collector would walk them again and again
# while they are created, for nothing, which costs about a quarter of the cold start's CPU. It is
# off until the module is initialised, then the survivors are frozen out of its generations.
gc.disable()

import os
from typing import Any

import boto3
from botocore.config import Config

from wacloud.core.aws import client_config
from wacloud.core.metrics import metrics
from wacloud.core.observability import log_failure, logger
from wacloud.core.settings import ProcessorSettings
from wacloud.core.sqs_batch import PartialBatchResponse, process_sqs_batch
from wacloud.processor.updates import BatchRun, Delivery, WebhookProcessor
from wacloud.table.store import ConversationStore
from wacloud.webhook.envelope import QueuedWebhook

settings = ProcessorSettings.from_env(os.environ)
# One connection per writing thread, and one for the records' own calls. DynamoDB answers in
# milliseconds: a call stuck for seconds is better retried than waited for. The requests are built
# by the table package; validating their shapes again would cost a tenth of each call's CPU.
AWS_CONFIG = client_config(read_timeout=3.0, max_pool_connections=settings.write_concurrency + 1).merge(
    Config(parameter_validation=False)
)
processor = WebhookProcessor(
    store=ConversationStore(boto3.resource("dynamodb", config=AWS_CONFIG).Table(settings.table_name)),
    s3_factory=lambda: boto3.client("s3", config=AWS_CONFIG),
    settings=settings,
)

# Initialised: what exists now lives as long as the process, so collections need not scan it.
gc.freeze()
gc.enable()


def record_handler(record: dict[str, Any], run: BatchRun) -> None:
    webhook = QueuedWebhook.from_lambda_record(record)
    logger.append_keys(sqs_message_id=webhook.message_id, request_id=webhook.request_id)
    try:
        summary = run.process(webhook, Delivery.from_lambda_record(record))
    except Exception as exc:
        # Logged here, where the record is known: it will be retried, and dead-lettered after
        # maxReceiveCount, so operators need to see why.
        log_failure("webhook not stored; the record will be retried", exc)
        raise
    if summary.rejected is not None:
        # Archived and noted; retrying could not help, so the record is not failed.
        logger.warning("webhook rejected", extra={"reason": summary.rejected, "duplicate": summary.duplicate})
        return
    logger.info(
        "webhook stored",
        extra={
            "messages": summary.messages,
            "statuses": summary.statuses,
            "other_changes": summary.other_changes,
            "untyped": summary.untyped,
            "duplicate": summary.duplicate,
            "skipped": summary.skipped,
        },
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.published
def handler(event: dict[str, Any], context: Any) -> PartialBatchResponse:
    run = processor.batch(context.get_remaining_time_in_millis)
    # Every failed record is reported, even when all fail, instead of failing the invocation: the
    # outcome is the same (all redelivered) without an error that looks like a crash.
    return process_sqs_batch(event, lambda record: record_handler(record, run))
