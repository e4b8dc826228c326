"""Cold start from built artifacts (INIT and the first event), and peak memory, per function.

Each sample is a fresh interpreter (python3.13, the template's runtime, when installed) whose
path holds only the function's artifacts, as the template's Makefiles build them, and the
runtime directory (boto3, as Lambda provides it), with AWS and the Graph API answering from a
stand-in. It times importing the handler's module and handling a first event, then handles a
few more events and reports its peak resident memory. The floor is the same interpreter
importing boto3 and creating the clients the function creates at INIT (bench/floors/clients.py).
Interpreter start-up, which both pay, is left out of both; the time is CPU time, which other
programs sharing the cores do not inflate.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.figures import Figure, figure
from bench.harness import FLOORS_DIR, api_event, function_environment, sqs_event, webhook_body, with_wamid
from bench.standin import aws_environment, stand_in
from walocal.build import base_interpreter, build_for_host, find_interpreter, python_version
from walocal.events import EVENTS_DIR
from walocal.template import Template

GOAL = 1.5
# The clients each function creates at INIT (boto3.resource for DynamoDB's Table).
CLIENTS = {
    "WebhookFunction": ["secretsmanager", "sqs"],
    "ProcessorFunction": ["dynamodb-resource"],
    "SenderFunction": ["dynamodb-resource", "sqs", "secretsmanager"],
}
_CHILD = """
import json, os, resource, sys, time
started = time.process_time()
import app
class Context:
    function_name = os.environ["BENCH_FUNCTION"]
    memory_limit_in_mb = int(os.environ["BENCH_MEMORY"])
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    def get_remaining_time_in_millis(self):
        return 60000
first, *more = json.loads(os.environ["BENCH_EVENTS"])
answer = app.handler(first, Context())
seconds = time.process_time() - started
for event in more:
    app.handler(event, Context())
# VmHWM is this program's own peak: ru_maxrss keeps the forking parent's across exec.
status = open("/proc/self/status").read().split("VmHWM:")
rss_kb = int(status[1].split()[0]) if len(status) > 1 else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_kb": rss_kb, "answer": answer}, default=str))
"""
_notes: list[str] = []


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mb: float


def _events(name: str) -> list[Any]:
    """The first event, then a few that make the function use the memory a busy instance does."""
    text = webhook_body("message_text")
    if name == "WebhookFunction":
        return [api_event(text), api_event(webhook_body("batch_mixed"))]
    if name == "ProcessorFunction":
        batch = [with_wamid(webhook_body("batch_mixed"), f"wamid.BENCH{index}") for index in range(10)]
        return [sqs_event(text), sqs_event(*batch)]
    send = json.loads((EVENTS_DIR / "sender" / "text.json").read_text())
    return [send, json.loads((EVENTS_DIR / "sender" / "image.json").read_text())]


def _run(python: str, path: list[Path], code: list[str], environment: dict[str, str]) -> Sample:
    answer = subprocess.run(
        [python, "-S", *code],
        env={"LANG": "C.UTF-8", **environment, "PYTHONPATH": os.pathsep.join(map(str, path))},
        cwd=path[0],
        check=True,
        capture_output=True,
        text=True,
    )
    last = answer.stdout.strip().splitlines()[-1]
    if last.startswith("{"):
        found = json.loads(last)
        if not _handled(found["answer"]):
            raise RuntimeError(f"the first event was not handled: {found['answer']}")
        return Sample(found["seconds"], found["rss_kb"] / 1024)
    return Sample(float(last), 0.0)


def _handled(answer: Any) -> bool:
    """The webhook's 200, the processor's batch without failures, the sender's accepted send."""
    if isinstance(answer, dict) and "statusCode" in answer:
        return bool(answer["statusCode"] == 200)
    if isinstance(answer, dict) and "batchItemFailures" in answer:
        return not answer["batchItemFailures"]
    return isinstance(answer, dict) and "error" not in answer


def measure(samples: int, python: str) -> dict[str, tuple[Sample, Sample]]:
    """Each function's median (INIT + first event, peak RSS) and its floor's."""
    template = Template.load()
    artifacts = build_for_host(template, python=python)
    found = {}
    with stand_in() as endpoint:
        for name, clients in CLIENTS.items():
            spec = template.functions()[name]
            environment = {
                **function_environment(name),
                **aws_environment(endpoint),
                "GRAPH_API_URL": endpoint,
                "BENCH_FUNCTION": name,
                "BENCH_MEMORY": str(spec.memory_size),
                "BENCH_EVENTS": json.dumps(_events(name)),
            }
            own, floor = [], []
            for _ in range(samples):  # in turns: a busy moment of the machine weighs on both alike
                own.append(_run(python, artifacts.import_path(name), ["-c", _CHILD], environment))
                floor_code = [str(FLOORS_DIR / "clients.py"), *clients]
                floor.append(_run(python, [artifacts.runtime], floor_code, environment))
            found[name] = (_median(own), _median(floor))
    return found


def _median(samples: list[Sample]) -> Sample:
    return Sample(statistics.median(s.seconds for s in samples), statistics.median(s.rss_mb for s in samples))


def figures(*, quick: bool = False) -> list[Figure]:
    python = find_interpreter("3.13")
    if python is None:
        python = base_interpreter()
        _notes.append(f"python3.13 not found: cold starts measured on {python_version(python)}")
    version = python_version(python)
    memory = {name: spec.memory_size for name, spec in Template.load().functions().items()}
    results = []
    for name, (own, floor) in measure(1 if quick else 5, python).items():
        short = name.removesuffix("Function").lower()
        goal: dict[str, Any] = {"check": "ratio<=", "target": GOAL}
        results.append(
            figure(
                f"cold start {short}, python{version} (INIT + first event)",
                "ms",
                1000 * own.seconds,
                1000 * floor.seconds,
                **goal,
            )
        )
        results.append(
            figure(
                f"{short} peak RSS vs MemorySize",
                "MB",
                own.rss_mb,
                memory[name],
                check="value<=",
                target=memory[name],
            )
        )
    return results


def assumptions() -> list[str]:
    return [
        "cold start: median of 5 fresh interpreters from built artifacts, CPU time of importing the "
        "handler's module and handling the first event (AWS and Graph answering at once from a "
        "stand-in; CPU time, as wall time on shared cores is mostly other programs'), interpreter "
        "start-up excluded; "
        "floor: import boto3 and create the same clients",
        "peak RSS: the same interpreter after a few more events (10 mixed POSTs for the processor)",
        *_notes,
    ]
