"""Sender function: sends Cloud API messages and runs the daily reminder.

Event sources, told apart by shape: an SQS batch of the outbound queue, the reminder schedule
(``{"source": "schedule", "job": "daily_reminder"}``), the template catalog's sync
(``{"source": "schedule", "job": "template_sync"}``: its schedule, or ``wactl templates sync``),
an EventBridge event whose ``detail`` is a send request, and a direct invocation with a send
request (any other JSON value is answered as an invalid request).
"""

# ruff: noqa: E402 (the imports follow gc.disable(), see below)
from __future__ import annotations

import gc

# The imports below (boto3's and pydantic's models above all) allocate hundreds of thousands of
# objects that live as long as the process; the cyclic collector would walk them again and again
# while they are created, for nothing, which costs about a quarter of the cold start's CPU. It is
# off until the module is initialised, then the survivors are frozen out of its generations.
gc.disable()

import os
from dataclasses import asdict
from typing import Any, TypeGuard

import boto3

from wacloud.core.aws import Lazy, client_config
from wacloud.core.credentials import AccessToken, CredentialsCache
from wacloud.core.metrics import metrics
from wacloud.core.observability import logger
from wacloud.core.settings import SenderSettings
from wacloud.core.sqs_batch import PartialBatchResponse, process_sqs_batch
from wacloud.meta.graph_client import GraphClient, GraphEndpoint, graph_pool
from wacloud.meta.outbound import SendRequestError
from wacloud.sender.catalog import TemplateCatalog
from wacloud.sender.delivery import MessageSender
from wacloud.sender.media_upload import MediaUploads
from wacloud.sender.queue import OutboundQueue
from wacloud.sender.reminders import ReminderFanout
from wacloud.sender.retry import Deadline, RetryPolicy
from wacloud.sender.service import SenderService
from wacloud.sender.template_sync import TemplateSync
from wacloud.table.ledger import SendLedger
from wacloud.table.media import MediaLedger
from wacloud.table.pacing import PairPacer, SharedPacer
from wacloud.table.store import ConversationStore
from wacloud.table.templates import TemplateCatalogStore

settings = SenderSettings.from_env(os.environ)
# One connection per record in flight, and one for the queue's and the secret's calls.
AWS_CONFIG = client_config(max_pool_connections=settings.send_concurrency + 1)
table = boto3.resource("dynamodb", config=AWS_CONFIG).Table(settings.table_name)
store = ConversationStore(table)
ledger = SendLedger(table)
catalog_store = TemplateCatalogStore(table)
catalog = TemplateCatalog(catalog_store)
queue = OutboundQueue(boto3.client("sqs", config=AWS_CONFIG), settings.outbound_queue_url)
graph = GraphClient(
    graph_pool(settings.send_concurrency),
    GraphEndpoint(settings.graph_api_url, settings.graph_api_version, settings.phone_number_id),
    connect_timeout=settings.connect_timeout_seconds,
    read_timeout=settings.read_timeout_seconds,
)
sender = MessageSender(
    graph=graph,
    credentials=CredentialsCache(
        boto3.client("secretsmanager", config=AWS_CONFIG),
        settings.secret_arn,
        AccessToken.from_secret_string,
        max_age_seconds=settings.secret_max_age_seconds,
    ),
    store=store,
    ledger=ledger,
    # Meta's limit is per phone number, across every instance: one send line per number in the table.
    limiter={
        number: SharedPacer(table, number, settings.send_rate_per_second)
        for number in settings.phone_number_ids
    },
    # And Meta's limit per contact and number: a burst to one user waits its turns instead of
    # drawing 131056.
    pairs={number: PairPacer(table, number) for number in settings.phone_number_ids},
    numbers=settings.phone_number_ids,
    retry=RetryPolicy(
        base_seconds=settings.send_backoff_base_seconds, max_attempts=settings.send_max_attempts
    ),
    uploads=MediaUploads(
        Lazy(lambda: boto3.client("s3", config=AWS_CONFIG)), settings.media_bucket, MediaLedger(table), graph
    ),
    # The approved templates, read once a minute: a send Meta would refuse is refused here.
    catalog=catalog,
)
service = SenderService(
    sender=sender,
    queue=queue,
    fanout=ReminderFanout(store, queue, ledger, settings.reminders, catalog=catalog),
    reminders=settings.reminders,
)
template_sync = TemplateSync(graph, catalog_store, settings.waba_id, sender.access_token)

# Initialised: what exists now lives as long as the process, so collections need not scan it.
gc.freeze()
gc.enable()


def record_handler(record: dict[str, Any], lambda_context: Any) -> None:
    service.handle_queued(record["body"], record["messageId"], Deadline.from_context(lambda_context))


@logger.inject_lambda_context(clear_state=True)
@metrics.published
def handler(event: object, context: Any) -> Any:
    # A direct invoke may carry any JSON value: only SQS batches and the schedule are told apart
    # by shape here, everything else is a send request for the contract to judge.
    if _is_sqs(event):
        # Every failed record is reported, even when all fail, rather than fail the invocation:
        # each record is then redelivered alone, and no error looks like a crash.
        # Records are sent side by side: each mostly waits on Meta, and their turns come from the
        # shared send line, so overlapping them raises the instance's rate, never the number's.
        response: PartialBatchResponse = process_sqs_batch(
            event, lambda record: record_handler(record, context), concurrency=settings.send_concurrency
        )
        return response
    deadline = Deadline.from_context(context)
    fields = event if isinstance(event, dict) else {}
    if fields.get("source") == "schedule" and fields.get("job") == "daily_reminder":
        return asdict(service.run_daily_reminder(fields, deadline))
    if fields.get("source") == "schedule" and fields.get("job") == "template_sync":
        summary = template_sync.run()
        catalog.forget()  # this instance's next send reads the catalog just written
        return summary.as_dict()
    is_event = "detail-type" in fields and "detail" in fields
    try:
        if is_event:
            logger.append_keys(event_id=fields.get("id"))
            return service.send_event(fields, deadline).model_dump(mode="json")
        return service.send_direct(event, deadline).model_dump(mode="json")
    except SendRequestError as exc:
        logger.warning("invalid send request", extra={"problems": [str(p) for p in exc.problems]})
        if "detail-type" in fields:
            # Asynchronous: nobody reads the answer, so fail and let the failure destination keep it.
            raise
        return {
            "error": {
                "type": "InvalidRequest",
                "message": str(exc),
                "problems": [{"field": p.loc, "rule": p.msg} for p in exc.problems],
            }
        }


def _is_sqs(event: object) -> TypeGuard[dict[str, Any]]:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(record, dict) and record.get("eventSource") == "aws:sqs" for record in records)
    )
