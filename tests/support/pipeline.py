"""Meta's webhook POSTs built and run through the template's webhook and processor functions,
and ``wactl`` run in process: what the operator-tool tests share."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from support.aws import REGION
from wacloud.meta.signature import sign
from wactl.cli import run
from walocal.events import http_api_event, sqs_record
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_APP_SECRET, LOCAL_PHONE_NUMBER_ID

KERRY = "16505551234"


def wactl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # the functions' logs so far are not the command's output
    code = run(list(argv))
    captured = capsys.readouterr()
    # Nor the metric lines a function invoked in this process writes to its log meanwhile.
    out = "".join(line for line in captured.out.splitlines(keepends=True) if not line.startswith('{"_aws":'))
    return code, out, captured.err


def deploy_outputs(stack: LocalStack, name: str = "whatsapp-cloud", **outputs: str) -> None:
    """A CloudFormation stack whose outputs name the emulated resources, as a deployed stack's do."""
    values = {
        "WebhookQueueUrl": stack.queue_urls["WebhookQueue"],
        "WebhookDeadLetterQueueUrl": stack.queue_urls["WebhookDeadLetterQueue"],
        "MessagesTableName": stack.table_names["MessagesTable"],
        "PayloadBucketName": stack.bucket_names["PayloadBucket"],
        "SenderFunctionName": stack.output("SenderFunctionName"),
        **outputs,
    }
    template = {
        # A stack needs a resource; this one stands in for the application's.
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in values.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def messages_value(**value: Any) -> dict[str, Any]:
    """A webhook POST with one ``messages`` change holding ``value``."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001234",
                                "phone_number_id": LOCAL_PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def inbound(wa_id: str, text: str, timestamp: int, name: str = "Kerry Fisher") -> dict[str, Any]:
    message = {
        "from": wa_id,
        "id": f"wamid.IN-{wa_id}-{timestamp}",
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": text},
    }
    return messages_value(contacts=[{"profile": {"name": name}, "wa_id": wa_id}], messages=[message])


def status(
    wamid: str,
    value: str,
    timestamp: int,
    recipient: str = KERRY,
    *,
    errors: list[dict[str, Any]] | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    update: dict[str, Any] = {
        "id": wamid,
        "status": value,
        "timestamp": str(timestamp),
        "recipient_id": recipient,
    }
    if errors:
        update["errors"] = errors
    if category:
        update["pricing"] = {"billable": True, "pricing_model": "PMP", "category": category}
    return messages_value(statuses=[update])


class Pipeline:
    """The template's webhook and processor functions on the emulated stack: Meta's POSTs, stored."""

    def __init__(
        self,
        stack: LocalStack,
        load_function: Callable[..., LocalFunction],
        *,
        raw_archive: str | None = None,
    ) -> None:
        """``raw_archive`` stands for the template's ``RawArchive`` parameter (its default if None)."""
        self.stack = stack
        self.webhook = load_function("WebhookFunction")
        archive = {} if raw_archive is None else {"RAW_ARCHIVE": raw_archive}
        self.processor = load_function("ProcessorFunction", **archive)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue_url = stack.queue_urls["WebhookQueue"]

    def post(self, payload: dict[str, Any] | bytes) -> None:
        """A signed POST, as Meta sends it: the webhook function queues it."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        event = http_api_event(
            method="POST",
            path="/webhook",
            route_key="POST /webhook",
            headers=[
                ("content-type", "application/json"),
                ("x-hub-signature-256", sign(body, LOCAL_APP_SECRET)),
            ],
            body=body,
        )
        assert self.webhook.invoke(event)["statusCode"] == 200

    def process(self) -> int:
        """Everything on the webhook queue through the processor, as the event source mapping would."""
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        handled = 0
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return handled
            answer = self.processor.invoke({"Records": [sqs_record(message, arn) for message in batch]})
            assert answer == {"batchItemFailures": []}
            for message in batch:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            handled += len(batch)

    def deliver(self, *payloads: dict[str, Any]) -> None:
        for payload in payloads:
            self.post(payload)
        self.process()
