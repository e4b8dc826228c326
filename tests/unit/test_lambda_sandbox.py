"""The local Lambda service's pure parts: limits read from the template, a worker's environment
and command, invocation records, Invoke API names and SQS partial batch answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from walocal.instances import UNHANDLED, InvokeResult, exit_description
from walocal.invoke_api import function_name
from walocal.lambda_service import invocation_record
from walocal.poller import _failed_ids
from walocal.sandbox import SandboxConfig, worker_command, worker_environment
from walocal.template import DEFAULT_CONCURRENCY, Template


def test_concurrency_and_async_settings_come_from_the_template(template: Template) -> None:
    specs = template.functions()
    assert specs["ProcessorFunction"].concurrency == 20  # the SQS source's MaximumConcurrency
    assert specs["WebhookFunction"].concurrency == DEFAULT_CONCURRENCY
    sender = specs["SenderFunction"]
    assert sender.event_invoke.maximum_retry_attempts == 2
    assert sender.event_invoke.on_failure == {"Fn::GetAtt": ["OutboundDeadLetterQueue", "Arn"]}
    assert (sender.memory_size, sender.timeout, sender.log_format) == (256, 60, "JSON")


def _config(tmp_path: Path) -> SandboxConfig:
    return SandboxConfig(
        name="Fn",
        handler="app.handler",
        task_root=tmp_path / "task",
        import_path=(tmp_path / "task", tmp_path / "layer" / "python", tmp_path / "runtime"),
        runtime_dir=tmp_path / "runtime",
        python="/usr/bin/python3",
        scratch_root=tmp_path,
        environment={"MY_SETTING": "1", "AWS_LAMBDA_FUNCTION_NAME": "not-mine"},
        memory_mb=256,
        log_format="JSON",
    )


def test_the_worker_environment_is_the_functions_plus_lambdas_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVELOPER_ONLY", "x")
    env = worker_environment(_config(tmp_path), "127.0.0.1:9001", tmp_path / "scratch")
    assert "DEVELOPER_ONLY" not in env
    assert env["MY_SETTING"] == "1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "Fn"  # Lambda's variables win
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert env["PYTHONPATH"].split(":") == [str(p) for p in _config(tmp_path).import_path]


def test_the_worker_runs_awslambdaric_without_site_packages(tmp_path: Path) -> None:
    command = worker_command(_config(tmp_path))
    assert command[0] == "/usr/bin/python3"
    assert "-S" in command
    assert command[-3:] == ["-m", "awslambdaric", "app.handler"]


def test_a_failure_record_is_lambdas() -> None:
    result = InvokeResult("req-1", b'{"errorMessage": "no", "errorType": "E"}', UNHANDLED)
    record = invocation_record(
        "arn:aws:lambda:us-east-1:1:function:Fn", b'{"a": 1}', result, 3, "RetriesExhausted"
    )
    assert record["requestContext"] == {
        "requestId": "req-1",
        "functionArn": "arn:aws:lambda:us-east-1:1:function:Fn:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"a": 1}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "E"
    json.dumps(record)


@pytest.mark.parametrize(
    "name",
    ["Fn", "Fn:$LATEST", "123456789012:function:Fn", "arn:aws:lambda:us-east-1:123456789012:function:Fn:1"],
)
def test_invoke_api_accepts_names_and_arns(name: str) -> None:
    assert function_name(name) == "Fn"


def test_partial_batch_answers() -> None:
    batch = {"a", "b"}
    assert _failed_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, batch) == {"a"}
    assert _failed_ids(None, batch) == set()
    with pytest.raises(ValueError, match="not in the batch"):
        _failed_ids({"batchItemFailures": [{"itemIdentifier": "c"}]}, batch)
    with pytest.raises(ValueError, match="not in the batch"):
        _failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, batch)


def test_exit_descriptions_are_lambdas() -> None:
    assert exit_description(-9) == "Runtime exited with error: signal: killed"
    assert exit_description(2) == "Runtime exited with error: exit status 2"
