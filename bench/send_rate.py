"""The sender's rate against Meta's limit per phone number, at Meta's latencies.

Sender instances, each a process of the template's runtime that loads the function from its
built artifacts as Lambda does (``bench/sender_instance.py``), take batches of ten queued send
requests from one work line as the event source's pollers hand them out, and send templates to
distinct contacts through the Graph API simulator, the records of a batch side by side (the
template's ``SEND_CONCURRENCY``). As many instances run as the queue's event source may scale to
(the template's ``MaximumConcurrency``): with a backlog, Lambda runs that many. The simulator
answers each request after Meta's latency, refuses above 80 per second (130429), and records when
each request arrived. The instances' table calls go to the stand-in, which answers at once
(DynamoDB's few milliseconds barely matter here) and keeps the send lines (the number's and each
contact's) itself, with DynamoDB's conditional updates, so that they hold across instances as the
table's do.

Figures: the steady rate (arrivals per second from the first to the last tenth of the run,
against Meta's 80/s, goal at least 76), the busiest one-second window (goal at most 80), and the
instances' CPU per send, at each latency.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from bench.figures import Figure, figure
from bench.harness import PHONE_NUMBER_ID, function_environment
from bench.standin import SECRET, aws_environment, stand_in
from walocal.build import base_interpreter, build_for_host, find_interpreter, python_version
from walocal.ports import free_ports
from walocal.simulator.config import SimulatorConfig
from walocal.simulator.server import GraphApiSimulator
from walocal.simulator.state import busiest_second
from walocal.template import Template

FUNCTION = "SenderFunction"
INSTANCE = Path(__file__).resolve().parent / "sender_instance.py"
META_LIMIT = 80
GOAL_RATE = 76
BATCH_SIZE = 10
LATENCIES = (0.3, 0.5, 1.0)
TABLE = "whatsapp-cloud-MessagesTable"
# Long enough at 80/s for the steady part to dominate the ramp-up and the tail.
MESSAGES = 1600
# A quick run checks that the benchmark runs, not the figure: a few instances, a few sends.
QUICK_MESSAGES = 100
QUICK_INSTANCES = 4
_STARTUP_SECONDS = 300
_notes: list[str] = []


def figures(quick: bool = False) -> list[Figure]:
    latencies = LATENCIES[:1] if quick else LATENCIES
    python = find_interpreter("3.13") or base_interpreter()
    template = Template.load()
    spec = template.functions()[FUNCTION]
    artifacts = build_for_host(template, python=python)
    instances = _Instances(
        python,
        artifacts.import_path(FUNCTION),
        QUICK_INSTANCES if quick else spec.sqs_maximum_concurrency or QUICK_INSTANCES,
    )
    found: list[Figure] = []
    _notes.clear()
    _notes.append(
        f"Sender rate: {instances.count} instances "
        f"({'a quick run' if quick else 'the outbound queue event source MaximumConcurrency'}) of "
        f"python{python_version(python)} from built artifacts, {BATCH_SIZE}-record batches sent side "
        f"by side, templates to distinct contacts, {QUICK_MESSAGES if quick else MESSAGES} sends per "
        "latency; the send lines kept by the stand-in, with DynamoDB's conditional updates; the rate "
        "is measured between the first and last tenth of the arrivals at the simulator."
    )
    with stand_in() as aws:
        for latency in latencies:
            run = _run(aws, latency, QUICK_MESSAGES if quick else MESSAGES, instances)
            label = f"Meta answering in {latency * 1000:.0f} ms"
            found.append(
                figure(
                    f"sender rate per number, {label}",
                    "sends/s",
                    run.rate,
                    META_LIMIT,
                    check="value>=",
                    target=GOAL_RATE,
                )
            )
            found.append(
                figure(
                    f"sender's busiest second, {label}",
                    "sends",
                    run.busiest,
                    META_LIMIT,
                    check="value<=",
                    target=META_LIMIT,
                )
            )
            found.append(figure(f"sender's CPU per send, {label}", "ms", 1000 * run.cpu_per_send, None))
            _notes.append(
                f"Meta answering in {latency * 1000:.0f} ms: the instances' CPU was "
                f"{1000 * run.cpu_per_send:.1f} ms a send, {run.cpu_per_send * META_LIMIT:.2f} cores at "
                f"{META_LIMIT}/s (this machine has {os.cpu_count()}, shared with the stand-in and the "
                f"simulator); {run.failed} of {run.records} records reported failed (a queue would "
                "redeliver them)"
            )
    return found


def assumptions() -> list[str]:
    return list(_notes)


@dataclass(frozen=True)
class _Instances:
    python: str
    path: list[Path]
    count: int


@dataclass(frozen=True)
class _Run:
    rate: float
    busiest: int
    cpu_per_send: float
    records: int
    failed: int


class _WorkLine:
    """Queue batches handed out one at a time, once every instance has said it is initialised
    (the run measures warm instances); and what each instance reports at the end."""

    def __init__(self, batches: list[list[str]]) -> None:
        self._batches = deque(batches)
        self._lock = threading.Lock()
        self.ready = threading.Semaphore(0)
        self.start = threading.Event()
        self.reports: list[dict[str, Any]] = []
        self.done = threading.Semaphore(0)

    def next_batch(self) -> list[str] | None:
        self.start.wait()
        with self._lock:
            return self._batches.popleft() if self._batches else None

    def report(self, found: dict[str, Any]) -> None:
        with self._lock:
            self.reports.append(found)
        self.done.release()


@contextmanager
def _served(line: _WorkLine) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # /next
            batch = line.next_batch()
            self._answer(204 if batch is None else 200, b"" if batch is None else json.dumps(batch).encode())

        def do_POST(self) -> None:  # /ready, /done
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/done":
                line.report(json.loads(body))
            else:
                line.ready.release()
            self._answer(200, b"")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(aws: str, latency: float, messages: int, instances: _Instances) -> _Run:
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
    run = uuid.uuid4().hex[:6]
    bodies = [json.dumps(_template_send(f"1555{run_number(run, n)}")) for n in range(messages)]
    line = _WorkLine([bodies[start : start + BATCH_SIZE] for start in range(0, messages, BATCH_SIZE)])
    spec = Template.load().functions()[FUNCTION]
    with GraphApiSimulator(config) as simulator, _served(line) as work, tempfile.TemporaryDirectory() as logs:
        environment = {
            "LANG": "C.UTF-8",
            **function_environment(FUNCTION, GRAPH_API_URL=simulator.url),
            **aws_environment(aws),
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "TABLE_NAME": TABLE,
            "PYTHONPATH": os.pathsep.join(map(str, instances.path)),
            "BENCH_WORK_URL": work,
            "BENCH_FUNCTION": FUNCTION,
            "BENCH_MEMORY": str(spec.memory_size),
            "BENCH_TIMEOUT": str(spec.timeout),
        }
        processes = []
        for index in range(instances.count):
            errors = Path(logs) / f"instance-{index}.err"
            with errors.open("wb") as sink:
                processes.append(
                    (
                        subprocess.Popen(
                            [instances.python, "-S", str(INSTANCE)],
                            env=environment,
                            cwd=instances.path[0],
                            stdout=subprocess.DEVNULL,  # the function's log: its metric lines
                            stderr=sink,
                        ),
                        errors,
                    )
                )
        try:
            for _ in processes:
                if not line.ready.acquire(timeout=_STARTUP_SECONDS):
                    raise RuntimeError(f"a sender instance did not start: {_stderr(processes)}")
            line.start.set()
            for _ in processes:
                if not line.done.acquire(timeout=900):
                    raise RuntimeError(f"a sender instance did not finish: {_stderr(processes)}")
        finally:
            for process, _ in processes:
                if process.poll() is None:
                    process.kill()
                process.wait()
        arrivals = requests.get(f"{simulator.url}/_simulator/arrivals", timeout=10).json()
    times = sorted(arrivals["arrivals"].get(PHONE_NUMBER_ID, []))
    records = sum(int(report["records"]) for report in line.reports)
    cpu = sum(float(report["cpu_seconds"]) for report in line.reports) / max(1, records)
    failed = sum(int(report["failed"]) for report in line.reports)
    return _Run(_steady_rate(times), busiest_second(times), cpu, records, failed)


def _stderr(processes: list[tuple[subprocess.Popen[bytes], Path]]) -> str:
    """What the instances that stopped wrote to stderr."""
    stopped = [
        errors.read_text(errors="replace")[-2000:]
        for process, errors in processes
        if process.poll() is not None
    ]
    return "\n".join(stopped) or "(every instance still running)"


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
