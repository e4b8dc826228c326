"""How long the processor takes over Meta's worst-case batch: what sizes its timeout, batch size
and the queue's visibility timeout in template.yaml.

The worst case is a batch of the template's BatchSize of records, each a POST of 1,000 failed
statuses (error 131050) of 1,000 messages to 1,000 recipients: per record, 1 archive put (and
the body's S3 archive), 40 batch writes, 1,000 message updates, 1,000 profile updates and the
note that it was stored in full. The processor runs as Lambda
loads it (the template's environment, its handler, a context with its timeout) against a
stand-in DynamoDB that answers every call after a fixed latency, in a separate process: the
measurement is the processor's own cost (CPU time of its process, wall time with its writes side
by side), not an emulator's. DynamoDB's latency is the one assumption (``--latency``, seconds).

    PYTHONPATH=layers/shared:local:tools:tests .venv/bin/python -m support.processor_budget

prints one line per record and a summary; ``--records``, ``--updates``, ``--concurrency`` and
``--latency`` change the case. ``--common`` measures the common case instead: invocations of one
record, a POST of one inbound text, and what one costs at each memory size (Lambda gives a
function CPU in proportion to its memory, one vCPU at 1,769 MB, and bills memory times duration).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.processor import fixture_body, sqs_event, statuses_post
from wacloud.processor.timing import ANSWER_MARGIN_SECONDS
from walocal.functions import LambdaContext, load_module
from walocal.template import Template

TABLE = "whatsapp-cloud-MessagesTable"
BUCKET = "whatsapp-cloud-payloadbucket-local"


@dataclass(frozen=True)
class Measurement:
    records: int
    updates: int
    concurrency: int
    latency: float
    timeout: int
    wall_seconds: float
    cpu_seconds: float
    calls: int
    failed: int
    record_seconds: list[float]

    def lines(self) -> list[str]:
        per_call_ms = 1000 * self.cpu_seconds / max(1, self.calls)
        slowest = max(self.record_seconds, default=0.0)
        usable = self.timeout - ANSWER_MARGIN_SECONDS
        return [
            f"{self.records} records x {self.updates} failed statuses, {self.concurrency} writes at a time, "
            f"DynamoDB latency {self.latency * 1000:.0f} ms, timeout {self.timeout} s",
            f"records (s): {', '.join(f'{seconds:.2f}' for seconds in self.record_seconds)}",
            f"batch: {self.wall_seconds:.2f} s wall, {self.cpu_seconds:.2f} s CPU for {self.calls} calls "
            f"({per_call_ms:.2f} ms CPU per call), {self.failed} records reported failed",
            f"a batch of {self.records} records as slow as the slowest: {slowest * self.records:.1f} s "
            f"of the {usable:.0f} s the function may use (its timeout less the answer margin)",
        ]


class _StandIn(BaseHTTPRequestHandler):
    """DynamoDB's JSON protocol (and S3's PUT), answering every write as done, after ``latency``
    seconds."""

    latency = 0.0
    calls: Any = None
    protocol_version = "HTTP/1.1"  # connections kept open, as DynamoDB's and S3's are
    disable_nagle_algorithm = True  # no 40 ms stall between a response's headers and its body

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        operation = self.headers.get("x-amz-target", "").rpartition(".")[2]
        time.sleep(self.latency)
        with self.calls.get_lock():
            self.calls.value += 1
        body = json.dumps({"UnprocessedItems": {}} if operation == "BatchWriteItem" else {}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        """S3's PutObject (archives of bodies over 8 KB), after the same latency."""
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(self.latency)
        with self.calls.get_lock():
            self.calls.value += 1
        self.send_response(200)
        self.send_header("etag", '"0"')
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve(port: Any, latency: float, calls: Any) -> None:
    _StandIn.latency = latency
    _StandIn.calls = calls
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


@contextmanager
def stand_in_dynamodb(latency: float) -> Iterator[tuple[str, Any]]:
    context = multiprocessing.get_context("spawn")
    port, calls = context.Value("i", 0), context.Value("i", 0)
    process = context.Process(target=_serve, args=(port, latency, calls), daemon=True)
    process.start()
    try:
        while not port.value:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port.value}", calls
    finally:
        process.terminate()
        process.join()


def measure(
    records: int | None = None, updates: int = 1000, concurrency: int | None = None, latency: float = 0.01
) -> Measurement:
    template = Template.load()
    spec = template.functions()["ProcessorFunction"]
    if records is None:
        (source,) = [source for source in template.queue_sources() if source.queue == "WebhookQueue"]
        records = source.batch_size
    environment = {key: value for key, value in spec.environment.items() if isinstance(value, str)}
    environment.update(TABLE_NAME=TABLE, PAYLOAD_BUCKET=BUCKET, RAW_PAYLOAD_RETENTION_DAYS="30")
    if concurrency is not None:
        environment["WRITE_CONCURRENCY"] = str(concurrency)
    bodies = [statuses_post(updates, tag=f"B{index}", opted_out=True) for index in range(records)]
    saved = dict(os.environ)
    with stand_in_dynamodb(latency) as (endpoint, calls):
        os.environ.update(_function_environment(environment, endpoint))
        module = load_module(spec)  # a cold start, with this environment

        def invoke(event: dict[str, Any]) -> Any:
            context = LambdaContext(spec.logical_id, spec.memory_size, spec.timeout, str(uuid.uuid4()))
            return module.handler(event, context)

        invoke(sqs_event(statuses_post(1, tag="WARM")))  # a warm sandbox: no import costs
        record_seconds: list[float] = []
        process = module.processor.process

        def timed(*args: Any, **kwargs: Any) -> Any:
            begun = time.monotonic()
            try:
                return process(*args, **kwargs)
            finally:
                record_seconds.append(time.monotonic() - begun)

        module.processor.process = timed
        calls.value = 0
        started, cpu = time.monotonic(), _cpu()
        answer = invoke(sqs_event(*bodies))
        wall, cpu = time.monotonic() - started, _cpu() - cpu
        made = calls.value
        os.environ.clear()
        os.environ.update(saved)
    return Measurement(
        records=records,
        updates=updates,
        concurrency=module.settings.write_concurrency,
        latency=latency,
        timeout=spec.timeout,
        wall_seconds=wall,
        cpu_seconds=cpu,
        calls=made,
        failed=len(answer["batchItemFailures"]),
        record_seconds=record_seconds,
    )


# Lambda's list prices on arm64 (us-east-1): per GB-second, and per request.
GB_SECOND_USD = 0.0000133334
REQUEST_USD = 0.0000002
FULL_VCPU_MB = 1769
MEMORY_SIZES_MB = (128, 256, 512, 1024, 1769)


@dataclass(frozen=True)
class CommonCase:
    invocations: int
    latency: float
    cpu_ms: float
    """Median CPU time of one invocation (one record: a POST of one inbound text)."""
    wall_ms: float
    """Median wall time of one invocation, with one vCPU."""

    def duration_ms(self, memory_mb: int) -> float:
        """The invocation at that memory: its CPU stretched by the share of a vCPU Lambda gives,
        its waits (DynamoDB's answers) as they are."""
        share = min(1.0, memory_mb / FULL_VCPU_MB)
        return self.cpu_ms / share + max(0.0, self.wall_ms - self.cpu_ms)

    def usd_per_million(self, memory_mb: int) -> float:
        gb_seconds = memory_mb / 1024 * self.duration_ms(memory_mb) / 1000
        return 1_000_000 * (gb_seconds * GB_SECOND_USD + REQUEST_USD)

    def lines(self) -> list[str]:
        lines = [
            f"one inbound text per invocation, {self.invocations} invocations, DynamoDB latency "
            f"{self.latency * 1000:.0f} ms: median {self.cpu_ms:.1f} ms CPU, {self.wall_ms:.1f} ms wall "
            "(one vCPU)"
        ]
        lines += [
            f"  {memory:>5} MB: about {self.duration_ms(memory):6.1f} ms, "
            f"${self.usd_per_million(memory):.3f} per million (GB-s and requests)"
            for memory in MEMORY_SIZES_MB
        ]
        return lines


def measure_common(invocations: int = 200, latency: float = 0.01) -> CommonCase:
    template = Template.load()
    spec = template.functions()["ProcessorFunction"]
    environment = {key: value for key, value in spec.environment.items() if isinstance(value, str)}
    environment.update(TABLE_NAME=TABLE, PAYLOAD_BUCKET=BUCKET, RAW_PAYLOAD_RETENTION_DAYS="30")
    body = json.loads(fixture_body("message_text.json"))
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    saved = dict(os.environ)
    cpu: list[float] = []
    wall: list[float] = []
    with stand_in_dynamodb(latency) as (endpoint, _):
        os.environ.update(_function_environment(environment, endpoint))
        module = load_module(spec)
        for index in range(invocations + 1):
            message["id"] = f"wamid.COMMON{index:06d}"
            event = sqs_event(json.dumps(body))
            context = LambdaContext(spec.logical_id, spec.memory_size, spec.timeout, str(uuid.uuid4()))
            started, begun = time.monotonic(), _cpu()
            module.handler(event, context)
            if index:  # the first warms the sandbox (connections, lazy imports)
                cpu.append(_cpu() - begun)
                wall.append(time.monotonic() - started)
        os.environ.clear()
        os.environ.update(saved)
    return CommonCase(invocations, latency, 1000 * statistics.median(cpu), 1000 * statistics.median(wall))


def _function_environment(environment: dict[str, str], endpoint: str) -> dict[str, str]:
    """The processor's environment with its AWS calls sent to the stand-in table."""
    return {
        **environment,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "budget",
        "AWS_SECRET_ACCESS_KEY": "budget",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=None, help="default: the template's BatchSize")
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=None, help="default: the template's")
    parser.add_argument("--latency", type=float, default=0.01, help="DynamoDB's answer time, seconds")
    parser.add_argument("--common", action="store_true", help="the common case: one text per invocation")
    args = parser.parse_args()
    measured = measure_common(latency=args.latency) if args.common else None
    lines = (
        measured.lines()
        if measured is not None
        else measure(args.records, args.updates, args.concurrency, args.latency).lines()
    )
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
