"""Functions run locally as Lambda runs them: worker processes with the real runtime interface
client, limits enforced, failures answered as Lambda answers them, instances replaced.

One runtime with tests/e2e/probe/template.yaml: ProbeFunction (1 s timeout, 128 MB, 3 reserved
instances, an OnFailure queue, an HTTP route) and OtherProbeFunction, both the probe handler.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from support.local_runtime import PORT_TAKEN, RunningRuntime, eventually, local_runtime
from walocal.ports import free_ports
from walocal.template import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lambda-runtime")]
PROBE_TEMPLATE = PROJECT_ROOT / "tests" / "e2e" / "probe" / "template.yaml"


class Probe(RunningRuntime):
    @property
    def http_url(self) -> str:
        return self.webhook_url.removesuffix("/webhook")

    def invoke(
        self,
        event: Any,
        function: str = "ProbeFunction",
        *,
        timeout: float = 30,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().invoke(event, function, timeout=timeout, headers=headers)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    log = tmp_path_factory.mktemp("probe") / "wa-local.log"
    canary = {"WALOCAL_TEST_CANARY": "the developer's environment"}
    with local_runtime(log, template=PROBE_TEMPLATE, env=canary) as running:
        yield Probe(**{field: getattr(running, field) for field in running.__dataclass_fields__})


def test_a_timeout_is_reported_as_lambda_does_and_the_next_call_gets_a_fresh_instance(probe: Probe) -> None:
    before = probe.invoke({}).json()["pid"]
    started = time.monotonic()
    timed_out = probe.invoke({"sleep": 5})
    assert time.monotonic() - started < 3
    assert timed_out.status_code == 200
    assert timed_out.headers["X-Amz-Function-Error"] == "Unhandled"
    error = timed_out.json()
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    after = probe.invoke({})
    assert "X-Amz-Function-Error" not in after.headers
    assert after.json()["pid"] != before
    request_id = timed_out.headers["x-amzn-RequestId"]
    report = next(line for line in probe.log_lines() if f"REPORT RequestId: {request_id}" in line)
    assert "Status: timeout" in report
    assert "Memory Size: 128 MB" in report


def test_a_handler_error_is_the_functions_error_and_the_instance_stays(probe: Probe) -> None:
    pid = probe.invoke({}).json()["pid"]
    failed = probe.invoke({"raise": "the handler gave up"}, headers={"X-Amz-Log-Type": "Tail"})
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert (failed.json()["errorType"], failed.json()["errorMessage"]) == (
        "RuntimeError",
        "the handler gave up",
    )
    tail = base64.b64decode(failed.headers["X-Amz-Log-Result"]).decode()
    assert "START RequestId" in tail
    assert "REPORT RequestId" in tail
    assert probe.invoke({}).json()["pid"] == pid  # one instance does everything one at a time


@pytest.mark.parametrize(
    ("event", "error_type"),
    [({"allocate_mb": 300}, "Runtime.OutOfMemory"), ({"exit": 3}, "Runtime.ExitError")],
)
def test_memory_size_and_crashes_end_the_instance_not_the_runtime(
    probe: Probe, event: dict[str, Any], error_type: str
) -> None:
    pid = probe.invoke({}).json()["pid"]
    failed = probe.invoke(event)
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.json()["errorType"] == error_type
    assert probe.invoke({}).json()["pid"] != pid


def test_the_http_api_answers_502_when_the_function_fails(probe: Probe) -> None:
    headers = {"content-type": "application/json"}
    ok = requests.post(f"{probe.http_url}/probe", data=b"{}", headers=headers, timeout=10)
    assert ok.status_code == 200
    failed = requests.post(f"{probe.http_url}/probe", data=b'{"raise": "x"}', headers=headers, timeout=10)
    assert (failed.status_code, failed.json()) == (502, {"message": "Internal Server Error"})


def test_instances_run_at_once_up_to_the_reserved_concurrency(probe: Probe) -> None:
    probe.invoke({})  # one warm instance; the others start on demand
    # A waiting call goes to the first instance free: when starting the others takes longer than
    # a sleep (a loaded machine), the warm one serves a second call, so a few rounds are allowed.
    for _ in range(5):
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: probe.invoke({"sleep": 0.7}), range(3)))
        assert all("X-Amz-Function-Error" not in answer.headers for answer in answers)
        pids = {answer.json()["pid"] for answer in answers}
        slept = [answer.json()["slept"] for answer in answers]
        if len(pids) == 3 and max(start for start, _ in slept) < min(end for _, end in slept):
            break
    # The three ran at once, each in an instance of its own: one after another, the warm
    # instance would have served them all.
    assert len(pids) == 3
    assert max(start for start, _ in slept) < min(end for _, end in slept)
    assert all(end - start >= 0.7 for start, end in slept)
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: probe.invoke({}), range(6)))
    assert len({answer.json()["pid"] for answer in answers}) <= 3


def test_the_worker_sees_only_its_function_and_lambdas_environment(probe: Probe) -> None:
    env = probe.invoke({}, "OtherProbeFunction").json()["environment"]
    assert "WALOCAL_TEST_CANARY" not in env
    assert "PROBE_SETTING" not in env  # ProbeFunction's, not this function's
    assert env["POWERTOOLS_SERVICE_NAME"] == "probe"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "OtherProbeFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_ENDPOINT_URL"] == probe.aws_url
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert env["TZ"] == ":UTC"
    assert env["LAMBDA_TASK_ROOT"].endswith("OtherProbeFunction")
    assert env["AWS_ACCESS_KEY_ID"] != "testing"  # its own identity, not the administrator's
    assert probe.invoke({}).json()["environment"]["PROBE_SETTING"] == "from-the-template"


def test_a_failed_async_event_is_retried_then_sent_to_the_on_failure_queue(probe: Probe) -> None:
    answer = probe.invoke({"raise": "async failure"}, headers={"X-Amz-Invocation-Type": "Event"})
    assert answer.status_code == 202
    sqs = probe.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="whatsapp-cloud-ProbeFailures")["QueueUrl"]

    def record() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        return json.loads(messages[0]["Body"]) if messages else None

    failure = eventually(record, timeout=15)
    assert failure["requestContext"]["requestId"] == answer.headers["x-amzn-RequestId"]
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts: 1
    assert failure["requestPayload"] == {"raise": "async failure"}
    assert failure["responsePayload"]["errorMessage"] == "async failure"


def test_each_instance_logs_under_its_function_with_one_cold_start(probe: Probe) -> None:
    probe.invoke({}, "OtherProbeFunction")
    probe.invoke({}, "OtherProbeFunction")
    cold_starts: dict[str, list[bool]] = {}
    for line in probe.log_lines():
        tag, _, text = line.partition("] ")
        if not tag.startswith("[") or not text.startswith("{"):
            continue
        function, instance = tag[1:].split()
        record = json.loads(text)
        if "cold_start" in record:
            assert record["function_name"] == function
            cold_starts.setdefault(f"{function} {instance}", []).append(record["cold_start"])
    assert any(key.startswith("OtherProbeFunction ") for key in cold_starts)
    assert any(key.startswith("ProbeFunction ") for key in cold_starts)
    for flags in cold_starts.values():
        assert flags[0] is True
        assert flags.count(True) == 1


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        webhook, graph, aws = free_ports(3)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "walocal",
                "--template",
                str(PROBE_TEMPLATE),
                *("--webhook-port", str(webhook), "--graph-port", str(graph)),
                *("--aws-port", str(aws), "--invoke-port", str(port)),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"port {port} (Lambda Invoke API) {PORT_TAKEN}" in result.stderr
    assert "Traceback" not in result.stderr
