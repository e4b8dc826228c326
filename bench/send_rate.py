"""The sender's rate against Meta's limit per phone number, at Meta's latencies.

Twenty sender instances (the outbound queue's ``MaximumConcurrency``), each a process that loads
``functions/sender/app.py`` as Lambda does, take batches of ten queued send requests from one
queue as the event source's pollers hand them out, and send templates to distinct contacts
through the Graph API simulator. The simulator answers each request after Meta's latency,
refuses above 80 per second (130429), and records when each request arrived. The instances'
table calls go to the stand-in (answering at once, as DynamoDB's few milliseconds barely matter
here), except those of the number's send line, which go to the emulated DynamoDB, so that its
conditional updates hold across instances as DynamoDB's do.

Figures: the steady rate (arrivals per second from the first to the last tenth of the run,
against Meta's 80/s, goal at least 76) and the busiest one-second window (goal at most 80), at
each latency.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.queues import Queue
from typing import Any

import boto3
import requests

from bench.figures import Figure, figure
from bench.harness import PHONE_NUMBER_ID, function_environment, load
from bench.standin import SECRET, aws_environment, stand_in
from walocal.ports import free_ports
from walocal.provision import provision
from walocal.simulator.config import SimulatorConfig
from walocal.simulator.server import GraphApiSimulator
from walocal.simulator.state import busiest_second
from walocal.template import Template

META_LIMIT = 80
GOAL_RATE = 76
INSTANCES = 20
BATCH_SIZE = 10
LATENCIES = (0.3, 0.5, 1.0)
# Long enough at 80/s for the steady part to dominate the ramp-up and the tail.
MESSAGES = 1600
# A quick run checks that the benchmark runs, not the figure: a few instances, a few sends.
QUICK_MESSAGES = 100
QUICK_INSTANCES = 4
_CONTEXT = multiprocessing.get_context("spawn")


def figures(quick: bool = False) -> list[Figure]:
    latencies = LATENCIES[:1] if quick else LATENCIES
    found: list[Figure] = []
    with _emulated_dynamodb() as (dynamodb, table), stand_in(forward=(dynamodb, (b"PACE#",))) as aws:
        for latency in latencies:
            if quick:
                rate, busiest = _run(aws, table, latency, QUICK_MESSAGES, QUICK_INSTANCES)
            else:
                rate, busiest = _run(aws, table, latency, MESSAGES, INSTANCES)
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
    return found


def assumptions() -> list[str]:
    return [
        f"Sender rate: {INSTANCES} instances x {BATCH_SIZE}-record batches, templates to distinct "
        f"contacts, {MESSAGES} sends per latency; the rate is measured between the first and last "
        "tenth of the arrivals at the simulator."
    ]


def _run(aws: str, table: str, latency: float, messages: int, count: int) -> tuple[float, int]:
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
            "TABLE_NAME": table,
        }
        work: Queue[list[str] | None] = _CONTEXT.Queue()
        ready: Queue[bool] = _CONTEXT.Queue()
        instances = [
            _CONTEXT.Process(target=_instance, args=(environment, work, ready), daemon=True)
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
        for process in instances:
            process.join(timeout=600)
        arrivals = requests.get(f"{simulator.url}/_simulator/arrivals", timeout=10).json()
    times = sorted(arrivals["arrivals"].get(PHONE_NUMBER_ID, []))
    return _steady_rate(times), busiest_second(times)


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


def _instance(environment: dict[str, str], work: Queue[list[str] | None], ready: Queue[bool]) -> None:
    """One sender instance: INIT, then a batch of the queue at a time until there are no more."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the process's own log: its metric lines)
    sender = load("SenderFunction", environment)
    ready.put(True)
    while (batch := work.get()) is not None:
        sender(_sqs_event(batch))


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


@contextmanager
def _emulated_dynamodb() -> Iterator[tuple[str, str]]:
    """moto's DynamoDB in a process of its own, holding the template's table: its URL, the table's name."""
    [port] = free_ports(1)
    process = _CONTEXT.Process(target=_serve_moto, args=(port,), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url)
        saved = {name: os.environ.get(name) for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID")}
        os.environ.update(aws_environment(url))
        try:
            template = Template.load()
            only_the_table = Template({"Resources": {"MessagesTable": template.resources["MessagesTable"]}})
            stack = provision(only_the_table, boto3.Session(region_name="us-east-1"))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        yield url, stack.table_names["MessagesTable"]
    finally:
        process.terminate()
        process.join()


def _serve_moto(port: int) -> None:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 (in the emulator's process only)

    from walocal import moto_atomic  # noqa: PLC0415

    moto_atomic.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    while True:
        time.sleep(3600)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"the emulated DynamoDB did not start at {url}")
