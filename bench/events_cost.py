"""What publishing events adds to each inbound text webhook, against publishing alone.

The processor stores ``EVENTS`` texts in the template's stack in moto; the table's stream then
holds what the publisher would get. The template's filter criteria decide which records invoke it
(filtered records cost nothing); the publisher's own code says how many events they make. The
publisher is timed on one batch of those records against a stand-in AWS answering each PutEvents
after ``LATENCY`` (bench/inbound_cost.py explains the timing). Cost: EventBridge's price per
event published, plus the publisher's invocations (one per batch) at the template's memory size.
The floor is one PutEvents entry per message and nothing else: the price of publishing at all.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import boto3

from bench import prices
from bench.cost import duration_ms
from bench.figures import Figure, figure
from bench.harness import (
    emulated_stack,
    function_environment,
    load,
    saved_environment,
    sqs_event,
    webhook_body,
    with_wamid,
)
from bench.inbound_cost import LATENCY
from bench.standin import aws_environment, stand_in
from wacloud.events.details import detail_of
from wacloud.events.stream_batch import table_change
from wacloud.table.stream import meanings
from walocal.filters import keeps
from walocal.template import Template

EVENTS = 20
_notes: list[str] = []


def stream_records(count: int) -> list[dict[str, Any]]:
    """The table's stream, as Lambda delivers it, after the processor stored ``count`` texts."""
    text = webhook_body("message_text")
    with emulated_stack() as (stack, loader):
        processor = loader("ProcessorFunction")
        for index in range(count):
            assert processor(sqs_event(with_wamid(text, f"wamid.EVENT{index:06d}"))) == {
                "batchItemFailures": []
            }
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        arn = dynamodb.describe_table(TableName=stack.table_names["MessagesTable"])["Table"][
            "LatestStreamArn"
        ]
        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        records = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
                change = dict(record["dynamodb"])
                change["ApproximateCreationDateTime"] = change["ApproximateCreationDateTime"].timestamp()
                records.append(
                    {"eventName": record["eventName"], "eventSource": "aws:dynamodb", "dynamodb": change}
                )
        return records


def events_of(records: list[dict[str, Any]]) -> int:
    return sum(
        len([detail_of(meaning, 0) for meaning in meanings(table_change(record))]) for record in records
    )


def time_publisher(batch: list[dict[str, Any]], rounds: int) -> tuple[float, float]:
    """CPU and waits (ms) of one warm publisher invocation on ``batch``."""
    with saved_environment(), stand_in(LATENCY) as endpoint:
        publisher = load(
            "PublisherFunction", function_environment("PublisherFunction", **aws_environment(endpoint))
        )
        event = {"Records": batch}
        publisher(event)
        cpu, wait = [], []
        for _ in range(rounds):
            started, begun = time.perf_counter(), time.process_time()
            assert publisher(event) == {"batchItemFailures": []}
            spent, took = time.process_time() - begun, time.perf_counter() - started
            cpu.append(spent)
            wait.append(max(0.0, took - spent))
    return 1000 * statistics.median(cpu), 1000 * statistics.median(wait)


def figures(*, quick: bool = False) -> list[Figure]:
    template = Template.load()
    [source] = template.stream_sources()
    memory = template.functions()[source.function].memory_size
    records = stream_records(EVENTS)
    invoking = [record for record in records if keeps(source.filters, record)]
    events = events_of(invoking)
    cpu_ms, wait_ms = time_publisher(invoking, 5 if quick else 40)
    # One invocation per batch: at a steady rate of webhooks, the batching window fills batches of
    # many records; EVENTS records to a batch is the conservative case the cost assumes.
    invocations = 1
    lambda_usd = (
        invocations * prices.LAMBDA_REQUEST_USD
        + invocations
        * memory
        / 1024
        * duration_ms(cpu_ms, wait_ms, memory)
        / 1000
        * prices.LAMBDA_ARM_GB_SECOND_USD
    )
    ours = (events * prices.EVENTBRIDGE_EVENT_USD + lambda_usd) * prices.MILLION / EVENTS
    floor = EVENTS * prices.EVENTBRIDGE_EVENT_USD * prices.MILLION / EVENTS
    _notes[:] = [
        f"events: {EVENTS} inbound texts stored make {len(records)} stream records, {len(invoking)} pass the "
        f"template's filter and make {events} events; the publisher takes them in one invocation "
        f"({cpu_ms:.1f} ms CPU, {wait_ms:.1f} ms waiting at {memory} MB; PutEvents answered after "
        f"{1000 * LATENCY:.0f} ms); EventBridge ${prices.EVENTBRIDGE_EVENT_USD * prices.MILLION:.2f} per "
        "million events; stream reads by Lambda are free",
    ]
    return [
        figure("events published per inbound text webhook", "events", events / EVENTS, 1.0),
        figure(
            "cost of events per million inbound text webhooks",
            "USD",
            ours,
            floor,
            check="ratio<=",
            target=1.15,
        ),
    ]


def assumptions() -> list[str]:
    return list(_notes)


if __name__ == "__main__":
    print(json.dumps(figures(), indent=2))
