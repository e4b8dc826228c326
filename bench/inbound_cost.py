"""Cost per million inbound text webhooks, and the processor's throughput per instance, against
the floor: bench/floors/webhook.py (HMAC check, SendMessage) and bench/floors/processor.py (one
PutItem per message), both at 128 MB.

Calls are counted on the template's stack in moto (bench/metering.py): the webhook's, and those
Lambda's SQS poller makes for the processor (ReceiveMessage of up to BatchSize messages,
DeleteMessageBatch), with DynamoDB's units by its size rules. Durations are measured against a
stand-in AWS answering each call after ``LATENCY``: CPU time of the process (one vCPU here),
stretched by the share of a vCPU the function's memory buys; the rest of the wall time (waiting
for AWS) as it is. Prices: bench/prices.py.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from bench.cost import Invocations, Usage, duration_ms, http_api_units
from bench.figures import Figure, figure
from bench.harness import (
    Loaded,
    api_event,
    emulated_stack,
    function_environment,
    lambda_sqs_event,
    load,
    load_floor,
    saved_environment,
    webhook_body,
    with_wamid,
)
from bench.metering import Counts, Meter
from bench.standin import aws_environment, stand_in
from walocal.template import Template

GOAL = 1.15
LATENCY = 0.005
"""Seconds AWS takes to answer a call from Lambda in the same region (DynamoDB, SQS)."""
FLOOR_MEMORY_MB = 128
EVENTS = 20
_notes: list[str] = []
TEXT_USD_PER_MILLION: float | None = None
"""This run's cost per million inbound texts, for the figures beside it (bench/media_cost.py)."""


@dataclass(frozen=True)
class Timing:
    cpu_ms: float
    wait_ms: float


def _bodies(count: int) -> list[bytes]:
    text = webhook_body("message_text")
    return [with_wamid(text, f"wamid.COST{index:06d}") for index in range(count)]


def count(webhook_name: str | None, processor_name: str | None, batch_size: int) -> tuple[Counts, int]:
    """Calls of EVENTS texts through a webhook and a processor (the template's functions when the
    names are None, else those floors), warm; and the batches the processor was invoked with."""
    with emulated_stack() as (stack, loader):
        meter = Meter(stack.table_names["MessagesTable"])
        session = boto3.DEFAULT_SESSION
        assert session is not None
        with meter.installed(session):
            webhook, processor = _functions(loader, stack.function_environment, webhook_name, processor_name)
            poller = session.client("sqs")
            queue_url = stack.queue_urls["WebhookQueue"]

            def deliver(bodies: list[bytes]) -> int:
                return _deliver(
                    webhook,
                    processor,
                    poller=poller,
                    queue_url=queue_url,
                    bodies=bodies,
                    batch_size=batch_size,
                )

            deliver(_bodies(1))  # cold starts, not counted
            meter.reset()
            batches = deliver(_bodies(EVENTS + 1)[1:])
            return meter.reset(), batches


def _functions(
    loader: Callable[..., Loaded],
    environment_of: Callable[[Any], dict[str, str]],
    webhook_name: str | None,
    processor_name: str | None,
) -> tuple[Loaded, Loaded]:
    if webhook_name is None or processor_name is None:
        return loader("WebhookFunction"), loader("ProcessorFunction")
    functions = Template.load().functions()
    return (
        load_floor(webhook_name, environment_of(functions["WebhookFunction"])),
        load_floor(processor_name, environment_of(functions["ProcessorFunction"])),
    )


def _deliver(
    webhook: Loaded, processor: Loaded, *, poller: Any, queue_url: str, bodies: list[bytes], batch_size: int
) -> int:
    for body in bodies:
        assert webhook(api_event(body))["statusCode"] == 200
    batches = stored = 0
    while stored < len(bodies):  # no receive past the last message: a busy queue is never empty
        received = poller.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch_size,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        answer = processor(lambda_sqs_event(received))
        assert answer == {"batchItemFailures": []}, answer
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
        poller.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        batches += 1
        stored += len(received)
    return batches


def time_invocations(rounds: int, batch_size: int) -> dict[str, Timing]:
    """CPU and waits of one warm invocation: the webhook's (one POST), the processor's (a full batch)."""
    found = {}
    with saved_environment(), stand_in(LATENCY) as endpoint:
        for label, name, floor in (
            ("webhook", "WebhookFunction", None),
            ("processor", "ProcessorFunction", None),
            ("floor webhook", "WebhookFunction", "webhook"),
            ("floor processor", "ProcessorFunction", "processor"),
        ):
            environment = function_environment(name, **aws_environment(endpoint))
            function = load(name, environment) if floor is None else load_floor(floor, environment)
            bodies = _bodies(batch_size)
            event = api_event(bodies[0]) if name == "WebhookFunction" else _records(bodies)
            found[label] = _timed(function, event, rounds)
    return found


def _records(bodies: list[bytes]) -> dict[str, Any]:
    messages = [
        {
            "MessageId": f"00000000-0000-4000-8000-{index:012d}",
            "ReceiptHandle": "bench",
            "Body": body.decode(),
            "MD5OfBody": "",
            "MessageAttributes": {"received_at_ms": {"DataType": "Number", "StringValue": "1763700100000"}},
        }
        for index, body in enumerate(bodies)
    ]
    return lambda_sqs_event(messages)


def _timed(function: Loaded, event: Any, rounds: int) -> Timing:
    function(event)  # warm: connections open, lazy imports done
    cpu, wait = [], []
    for _ in range(rounds):
        started, begun = time.perf_counter(), time.process_time()
        function(event)
        spent, took = time.process_time() - begun, time.perf_counter() - started
        cpu.append(spent)
        wait.append(max(0.0, took - spent))
    return Timing(1000 * statistics.median(cpu), 1000 * statistics.median(wait))


def usage(counts: Counts, batches: int, webhook: Timing, processor: Timing, memory: dict[str, int]) -> Usage:
    body_bytes = len(_bodies(1)[0])
    return Usage(
        events=EVENTS,
        http_api_requests=EVENTS * http_api_units(body_bytes),
        invocations=[
            Invocations("webhook", EVENTS, memory["webhook"], webhook.cpu_ms, webhook.wait_ms),
            Invocations("processor", batches, memory["processor"], processor.cpu_ms, processor.wait_ms),
        ],
        sqs_requests=counts.sqs_billed_requests,
        write_units=counts.write_units,
        read_units=counts.read_units,
        secrets_manager_calls=counts.of_service("secretsmanager"),
        s3_puts=counts.requests["s3.PutObject"],
    )


def figures(*, quick: bool = False) -> list[Figure]:
    functions = Template.load().functions()
    batch_size = next(s.batch_size for s in Template.load().queue_sources() if s.queue == "WebhookQueue")
    memory = {
        "webhook": functions["WebhookFunction"].memory_size,
        "processor": functions["ProcessorFunction"].memory_size,
    }
    floor_memory = {"webhook": FLOOR_MEMORY_MB, "processor": FLOOR_MEMORY_MB}
    ours, our_batches = count(None, None, batch_size)
    theirs, their_batches = count("webhook", "processor", batch_size)
    timing = time_invocations(5 if quick else 60, batch_size)
    our_usage = usage(ours, our_batches, timing["webhook"], timing["processor"], memory)
    floor_usage = usage(
        theirs, their_batches, timing["floor webhook"], timing["floor processor"], floor_memory
    )
    global TEXT_USD_PER_MILLION  # noqa: PLW0603 (one run's figure, shared with the sections after it)
    TEXT_USD_PER_MILLION = our_usage.usd_per_million()
    _notes[:] = [
        f"cost: {EVENTS} inbound texts, warm; AWS answering in {LATENCY * 1000:.0f} ms per call; "
        f"batches of {batch_size} (the template's BatchSize, a busy queue: no empty receives); "
        f"memory from template.yaml (webhook {memory['webhook']} MB, processor {memory['processor']} MB), "
        f"floors at {FLOOR_MEMORY_MB} MB; a sandbox's secret fetch (once per cold start and "
        "SECRET_MAX_AGE_SECONDS) amortised to nothing; CloudWatch Logs not counted",
        f"cost per million, ours: {_breakdown(our_usage)}; calls for {EVENTS} texts: {_calls(ours)}",
        f"cost per million, floor: {_breakdown(floor_usage)}; calls for {EVENTS} texts: {_calls(theirs)}",
        "durations (ms, CPU on one vCPU + waits): "
        + ", ".join(f"{label} {t.cpu_ms:.1f} + {t.wait_ms:.1f}" for label, t in timing.items()),
    ]
    per_batch = {
        "ours": duration_ms(timing["processor"].cpu_ms, timing["processor"].wait_ms, memory["processor"]),
        "floor": duration_ms(
            timing["floor processor"].cpu_ms, timing["floor processor"].wait_ms, memory["processor"]
        ),
    }
    return [
        figure(
            "cost per million inbound text webhooks",
            "USD",
            our_usage.usd_per_million(),
            floor_usage.usd_per_million(),
            check="ratio<=",
            target=GOAL,
        ),
        figure(
            f"processor throughput per instance at {memory['processor']} MB (batches of {batch_size} texts)",
            "updates/s",
            1000 * batch_size / per_batch["ours"],
            1000 * batch_size / per_batch["floor"],
        ),
    ]


def _breakdown(found: Usage) -> str:
    scale = 1_000_000 / found.events
    parts = [f"{name} ${usd * scale:.3f}" for name, usd in found.usd().items() if usd]
    return f"${found.usd_per_million():.3f} = " + " + ".join(parts)


def _calls(counts: Counts) -> str:
    return ", ".join(f"{name} {number}" for name, number in sorted(counts.requests.items()))


def assumptions() -> list[str]:
    return list(_notes)


if __name__ == "__main__":
    print(json.dumps(figures(quick=True), indent=2))
    print("\n".join(assumptions()))
