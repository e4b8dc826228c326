"""The benchmarks' meter counts a known set of calls as AWS bills them (against moto)."""

from __future__ import annotations

import boto3
import pytest

from bench.metering import Meter
from walocal.provision import LocalStack


@pytest.fixture
def meter(stack: LocalStack) -> Meter:
    return Meter(stack.table_names["MessagesTable"])


def test_the_hooks_count_requests_items_units_and_sqs_chunks(stack: LocalStack, meter: Meter) -> None:
    session = boto3.Session(region_name="us-east-1")
    table_name = stack.table_names["MessagesTable"]
    queue_url = stack.queue_urls["WebhookQueue"]
    with meter.installed(session):
        dynamodb = session.client("dynamodb")
        sqs = session.client("sqs")
        small = {"pk": {"S": "BENCH#1"}, "sk": {"S": "A"}, "text": {"S": "x" * 100}}
        large = {"pk": {"S": "BENCH#1"}, "sk": {"S": "B"}, "text": {"S": "x" * 2500}}
        dynamodb.put_item(TableName=table_name, Item=small)  # 1 WU
        dynamodb.put_item(TableName=table_name, Item=large)  # 3 WU (2.5 KB)
        dynamodb.batch_write_item(
            RequestItems={
                table_name: [
                    {"PutRequest": {"Item": {"pk": {"S": "BENCH#2"}, "sk": {"S": str(i)}}}} for i in range(3)
                ]
            }
        )  # 3 items, 1 WU each
        dynamodb.get_item(TableName=table_name, Key={"pk": small["pk"], "sk": small["sk"]})  # 0.5 RU
        sqs.send_message(QueueUrl=queue_url, MessageBody="y" * 100_000)  # 2 chunks
        sqs.send_message(QueueUrl=queue_url, MessageBody="small")  # 1
        counts = meter.reset()
    assert counts.requests == {
        "dynamodb.PutItem": 2,
        "dynamodb.BatchWriteItem": 1,
        "dynamodb.GetItem": 1,
        "sqs.SendMessage": 2,
    }
    assert counts.of_service("dynamodb") == 4
    assert counts.dynamodb_items_written == 5
    assert counts.write_units == 1 + 3 + 3
    assert counts.read_units == 0.5
    assert counts.sqs_billed_requests == 3


def test_nothing_is_counted_once_uninstalled(stack: LocalStack, meter: Meter) -> None:
    session = boto3.Session(region_name="us-east-1")
    with meter.installed(session):
        pass
    session.client("sqs").send_message(QueueUrl=stack.queue_urls["WebhookQueue"], MessageBody="x")
    assert meter.reset().requests == {}
