"""The sender's rate against Meta's limit per phone number, at Meta's latencies.

Sender instances, each a process that loads ``functions/sender/app.py`` as Lambda does, take
batches of ten queued send requests from one queue as the event source's pollers hand them out,
and send templates to distinct contacts through the Graph API simulator, the records of a batch
side by side (the template's ``SEND_CONCURRENCY``). The simulator answers each request after
Meta's latency, refuses above 80 per second (130429), and records when each request arrived.
The instances' table calls go to the stand-in, which answers at once (DynamoDB's few milliseconds
barely matter here) and keeps the send lines (the number's and each contact's) itself, with
DynamoDB's conditional updates, so that they hold across instances as the table's do.

Instances: enough records in flight to keep 80 requests a second going at the slowest latency
(80 x 1 s, plus the sender's own time), and no more: each instance is a process of its own, and
on a machine of two cores more processes only measure the machine.

Figures: the steady rate (arrivals per second from the first to the last tenth of the run,
against Meta's 80/s, goal at least 76) and the busiest one-second window (goal at most 80), at
each latency.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
import time
import uuid
from multiprocessing.queues import Queue
from typing import Any

import requests

from bench.figures import Figure, figure
from bench.harness import PHONE_NUMBER_ID, function_environment, load
from bench.standin import SECRET, aws_environment, stand_in
from walocal.ports import free_ports
from walocal.simulator.config import SimulatorConfig
from walocal.simulator.server import GraphApiSimulator
from walocal.simulator.state import busiest_second

META_LIMIT = 80
GOAL_RATE = 76
BATCH_SIZE = 10
LATENCIES = (0.3, 0.5, 1.0)
# Records in flight per instance (the template's SEND_CONCURRENCY), and the sender's own time per
# record beside Meta's answer (reading the profile and the catalog, the turn, recording).
SEND_CONCURRENCY = 10
SENDER_SECONDS = 0.25
INSTANCES = math.ceil(META_LIMIT * (max(LATENCIES) + SENDER_SECONDS) / SEND_CONCURRENCY)
TABLE = "whatsapp-cloud-MessagesTable"
# Long enough at 80/s for the steady part to dominate the ramp-up and the tail.
MESSAGES = 1600
# A quick run checks that the benchmark runs, not the figure: a few instances, a few sends.
QUICK_MESSAGES = 100
QUICK_INSTANCES = 4
_CONTEXT = multiprocessing.get_context("spawn")
_notes: list[str] = []


def figures(quick: bool = False) -> list[Figure]:
    latencies = LATENCIES[:1] if quick else LATENCIES
    found: list[Figure] = []
    _notes.clear()
    with stand_in() as aws:
        for latency in latencies:
            if quick:
                rate, busiest, cpu = _run(aws, latency, QUICK_MESSAGES, QUICK_INSTANCES)
            else:
                rate, busiest, cpu = _run(aws, latency, MESSAGES, INSTANCES)
            label = f"Meta answering in {latency * 1000:.0f} ms"
            found.append(
                figure(
                    f"sender rate per number, {label}",
                    "sends/s",
                    rate,
                    META_LIMIT,
                    check="value>=",
                    target=GOAL_RATE,
                )
            )
            found.append(
                figure(
                    f"sender's busiest second, {label}",
                    "sends",
                    busiest,
                    META_LIMIT,
                    check="value<=",
                    target=META_LIMIT,
                )
            )
            found.append(figure(f"sender's CPU per send, {label}", "ms", 1000 * cpu, None))
            _notes.append(
                f"Meta answering in {latency * 1000:.0f} ms: the instances' CPU was {1000 * cpu:.1f} ms a "
                f"send, {cpu * META_LIMIT:.2f} cores at {META_LIMIT}/s (this machine has "
                f"{os.cpu_count()}, shared with the stand-in and the simulator): below that, the rate and "
                "the busiest second measure the machine (a late turn's request goes out with the next ones)"
            )
    return found


def assumptions() -> list[str]:
    return [
        f"Sender rate: {INSTANCES} instances x {BATCH_SIZE}-record batches ({SEND_CONCURRENCY} records "
        f"side by side), templates to distinct contacts, {MESSAGES} sends per latency; the send "
        "lines kept by the stand-in, with DynamoDB's conditional updates; the rate is measured "
        "between the first and last tenth of the arrivals at the simulator.",
        *_notes,
    ]


def _run(aws: str, latency: float, messages: int, count: int) -> tuple[float, int, float]:
    """The steady rate, the busiest second, and the instances' CPU seconds per send."""
    config = SimulatorConfig(
        port=free_ports(1)[0],
        access_token=SECRET["access_token"],
        phone_number_id=PHONE_NUMBER_ID,
        webhook_url=aws,
        latency=latency,
        # No status webhooks within the run: they would only take the cores the senders need.
        sent_delay=3600.0,
        auto_read=False,
    )
    with GraphApiSimulator(config) as simulator:
        environment = {
            **function_environment("SenderFunction", GRAPH_API_URL=simulator.url),
            **aws_environment(aws),
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "TABLE_NAME": TABLE,
            "SEND_CONCURRENCY": str(SEND_CONCURRENCY),
        }
        work: Queue[list[str] | None] = _CONTEXT.Queue()
        ready: Queue[bool] = _CONTEXT.Queue()
        done: Queue[tuple[float, int]] = _CONTEXT.Queue()
        instances = [
            _CONTEXT.Process(target=_instance, args=(environment, work, ready, done), daemon=True)
            for _ in range(count)
        ]
        for process in instances:
            process.start()
        for _ in instances:
            ready.get(timeout=120)  # every instance initialised: the run measures warm ones
        run = uuid.uuid4().hex[:6]
        bodies = [json.dumps(_template_send(f"1555{run_number(run, n)}")) for n in range(messages)]
        for start in range(0, messages, BATCH_SIZE):
            work.put(bodies[start : start + BATCH_SIZE])
        for _ in instances:
            work.put(None)
        used = [done.get(timeout=600) for _ in instances]
        for process in instances:
            process.join(timeout=600)
        arrivals = requests.get(f"{simulator.url}/_simulator/arrivals", timeout=10).json()
    times = sorted(arrivals["arrivals"].get(PHONE_NUMBER_ID, []))
    cpu = sum(seconds for seconds, _ in used) / max(1, sum(sends for _, sends in used))
    return _steady_rate(times), busiest_second(times), cpu


def run_number(run: str, n: int) -> str:
    """A distinct contact per send: Meta's pair limit (one user, a few per minute) stays out of it."""
    return f"{int(run, 16) % 1000:03d}{n:07d}"


def _template_send(to: str) -> dict[str, Any]:
    return {
        "to": to,
        "type": "template",
        "template": {
            "name": "daily_reminder",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Maria"}]}],
        },
    }


def _steady_rate(times: list[float]) -> float:
    """Arrivals per second between the first and the last tenth of the run (ramp-up and tail out)."""
    if len(times) < 20:
        return 0.0
    first, last = len(times) // 10, len(times) - len(times) // 10 - 1
    return (last - first) / (times[last] - times[first])


def _instance(
    environment: dict[str, str],
    work: Queue[list[str] | None],
    ready: Queue[bool],
    done: Queue[tuple[float, int]],
) -> None:
    """One sender instance: INIT, then a batch of the queue at a time until there are no more;
    then the CPU seconds it spent on them, and how many records they held."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the process's own log: its metric lines)
    sender = load("SenderFunction", environment)
    ready.put(True)
    started, sends = time.process_time(), 0
    while (batch := work.get()) is not None:
        sender(_sqs_event(batch))
        sends += len(batch)
    done.put((time.process_time() - started, sends))


def _sqs_event(bodies: list[str]) -> dict[str, Any]:
    now_ms = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now_ms,
                    "ApproximateFirstReceiveTimestamp": now_ms,
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:whatsapp-cloud-OutboundQueue",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }
