"""The local stream event source does what Lambda's does: order, filters, partial failures,
bisecting, and giving up to the OnFailure destination."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from walocal.instances import InvokeResult
from walocal.stream_poller import StreamPoller
from walocal.template import StreamSource

REGION = "us-east-1"
SOURCE = StreamSource(
    table="T",
    function="F",
    batch_size=4,
    batching_window_seconds=0,
    starting_position="TRIM_HORIZON",
    bisect_on_error=False,
    maximum_retry_attempts=2,
    report_batch_item_failures=True,
    filters=[],
    on_failure=None,
)


class ScriptedFunction:
    """A function target that records each batch's keys and answers with ``answer(keys)``."""

    name = "F"

    def __init__(self, answer: Callable[[list[str]], dict[str, Any] | Exception]) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []

    def run(self, payload: bytes, *, request_id: str | None = None) -> InvokeResult:
        records = json.loads(payload)["Records"]
        keys = [record["dynamodb"]["Keys"]["pk"]["S"] for record in records]
        self.batches.append(keys)
        answer = self.answer(keys)
        if isinstance(answer, Exception):
            error = {"errorType": type(answer).__name__, "errorMessage": str(answer)}
            return InvokeResult("r", json.dumps(error).encode(), function_error="Unhandled")
        if answer.get("stranger"):
            return InvokeResult("r", json.dumps({"batchItemFailures": [{"itemIdentifier": "nope"}]}).encode())
        if answer.get("failed"):
            failed = [records[keys.index(key)]["dynamodb"]["SequenceNumber"] for key in answer["failed"]]
            return InvokeResult(
                "r", json.dumps({"batchItemFailures": [{"itemIdentifier": s} for s in failed]}).encode()
            )
        return InvokeResult("r", b"null")

    def run_async(self, payload: bytes, *, request_id: str | None = None) -> str:
        raise NotImplementedError


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[dict[str, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = dynamodb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        sqs = boto3.client("sqs", region_name=REGION)
        yield {
            "dynamodb": dynamodb,
            "streams": boto3.client("dynamodbstreams", region_name=REGION),
            "sqs": sqs,
            "stream_arn": table["LatestStreamArn"],
            "dlq": sqs.create_queue(QueueName="failed")["QueueUrl"],
        }


def put(aws: dict[str, Any], *keys: str) -> None:
    for key in keys:
        aws["dynamodb"].put_item(TableName="t", Item={"pk": {"S": key}})


def poller(aws: dict[str, Any], function: ScriptedFunction, **changes: Any) -> StreamPoller:
    source = replace(SOURCE, **changes)
    return StreamPoller(
        aws["streams"],
        aws["sqs"],
        source,
        aws["stream_arn"],
        function,
        on_failure_url=aws["dlq"] if source.on_failure else None,
        retry_delay=lambda attempt: 0.0,
    )


def given_up(aws: dict[str, Any]) -> list[dict[str, Any]]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_batches_follow_the_stream_in_order_and_each_record_is_delivered_once(aws: dict[str, Any]) -> None:
    put(aws, *(f"k{n}" for n in range(10)))
    function = ScriptedFunction(lambda keys: {})
    stream = poller(aws, function)
    assert stream.poll_once() == 10
    assert function.batches == [["k0", "k1", "k2", "k3"], ["k4", "k5", "k6", "k7"], ["k8", "k9"]]
    put(aws, "k10")
    assert stream.poll_once() == 1
    assert function.batches[-1] == ["k10"]
    assert stream.poll_once() == 0


def test_filtered_records_are_consumed_without_an_invocation(aws: dict[str, Any]) -> None:
    put(aws, "MSG#1", "SKIP#1", "MSG#2")
    function = ScriptedFunction(lambda keys: {})
    pattern = {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "MSG#"}]}}}}
    assert poller(aws, function, filters=[pattern]).poll_once() == 2
    assert function.batches == [["MSG#1", "MSG#2"]]


def test_a_partial_failure_retries_from_the_first_record_named(aws: dict[str, Any]) -> None:
    put(aws, "a", "b", "c", "d")
    calls = iter([{"failed": ["c"]}, {}])
    function = ScriptedFunction(lambda keys: next(calls))
    poller(aws, function).poll_once()
    assert function.batches == [["a", "b", "c", "d"], ["c", "d"]]


def test_a_failing_function_bisects_down_to_the_poison_record_and_gives_it_up(aws: dict[str, Any]) -> None:
    put(aws, "a", "b", "poison", "d")
    function = ScriptedFunction(lambda keys: RuntimeError("boom") if "poison" in keys else {})
    poller(aws, function, bisect_on_error=True, on_failure="Failed", maximum_retry_attempts=1).poll_once()
    assert function.batches == [
        ["a", "b", "poison", "d"],
        ["a", "b"],
        ["poison", "d"],
        ["poison"],
        ["poison"],
        ["d"],
    ]
    (record,) = given_up(aws)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["streamArn"]) == (1, aws["stream_arn"])
    assert info["startSequenceNumber"] == info["endSequenceNumber"]


def test_without_bisecting_the_whole_batch_is_retried_then_given_up(aws: dict[str, Any]) -> None:
    put(aws, "a", "b")
    function = ScriptedFunction(lambda keys: RuntimeError("down"))
    poller(aws, function, on_failure="Failed", maximum_retry_attempts=2).poll_once()
    assert function.batches == [["a", "b"]] * 3
    (record,) = given_up(aws)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_an_answer_naming_a_stranger_fails_the_whole_batch(aws: dict[str, Any]) -> None:
    put(aws, "a", "b")
    calls = iter([{"stranger": True}, {}])
    function = ScriptedFunction(lambda keys: next(calls))
    poller(aws, function).poll_once()
    assert function.batches == [["a", "b"], ["a", "b"]]


def test_a_write_that_changes_nothing_is_not_on_the_stream(aws: dict[str, Any]) -> None:
    put(aws, "a", "a", "b")  # the second write of "a" leaves it as it was
    function = ScriptedFunction(lambda keys: {})
    assert poller(aws, function).poll_once() == 2
    assert function.batches == [["a", "b"]]
