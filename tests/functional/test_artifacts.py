"""The deployable artifacts run: each function's handler, imported and invoked in a fresh interpreter
whose path holds only its built artifacts (task root and layers, as the template wires them) and
the runtime directory. No site-packages, no development environment: what is missing from the
artifacts fails here, as it would on Lambda.

The artifacts are built for this machine by the same Makefiles that `sam build` runs for arm64
(tests/functional/test_build.py checks those). Emulated AWS runs in its own process, so the
functions reach it over HTTP as they would reach AWS.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from wacloud.meta.signature import sign
from walocal.build import HostArtifacts, build_for_host
from walocal.events import http_api_event, load_event
from walocal.provision import LocalStack, provision
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_APP_SECRET, LOCAL_PHONE_NUMBER_ID, LOCAL_VERIFY_TOKEN
from walocal.template import Template

pytestmark = pytest.mark.xdist_group("artifacts")

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# Runs inside the function's interpreter: proves where everything comes from, then invokes.
INVOKE = """
import json, sys
assert sys.flags.no_site and not any("site-packages" in entry for entry in sys.path), sys.path
import app
request = json.load(sys.stdin)

class Context:
    function_name = request["function"]
    memory_limit_in_mb = 256
    aws_request_id = "artifact-test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    def get_remaining_time_in_millis(self):
        return 10_000

answer = app.handler(request["event"], Context())
modules = ("pydantic", "boto3", "wacloud")
origins = {name: getattr(sys.modules.get(name), "__file__", None) for name in modules}
print(json.dumps({"answer": answer, "origins": origins}))
"""


@pytest.fixture(scope="module")
def artifacts(template: Template) -> HostArtifacts:
    return build_for_host(template)


@pytest.fixture(scope="module")
def aws(template: Template) -> Iterator[tuple[str, LocalStack]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(endpoint)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", endpoint)
            for name, value in CREDENTIALS.items():
                patch.setenv(name, value)
            stack = provision(
                template,
                boto3.Session(region_name=REGION),
                parameters={"PhoneNumberId": LOCAL_PHONE_NUMBER_ID, "GraphApiUrl": "http://127.0.0.1:9"},
                secret_values={
                    "app_secret": LOCAL_APP_SECRET,
                    "verify_token": LOCAL_VERIFY_TOKEN,
                    "access_token": LOCAL_ACCESS_TOKEN,
                },
            )
        yield endpoint, stack
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(endpoint: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(f"{endpoint}/moto-api/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("the emulated AWS did not start")


def invoke(
    name: str,
    event: dict[str, Any],
    artifacts: HostArtifacts,
    aws: tuple[str, LocalStack],
    template: Template,
) -> dict[str, Any]:
    endpoint, stack = aws
    spec = template.functions()[name]
    path = artifacts.import_path(name)
    env = {
        **stack.function_environment(spec),
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "PYTHONPATH": os.pathsep.join(map(str, path)),
        "LANG": "C.UTF-8",
    }
    result = subprocess.run(
        [artifacts.python, "-S", "-c", INVOKE],
        input=json.dumps({"function": name, "event": event}),
        cwd=path[0],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    for module, origin in output["origins"].items():
        if origin is not None:  # imported: it must come from the artifacts or the runtime directory
            assert any(Path(origin).is_relative_to(entry) for entry in path), (module, origin)
    return output


def test_every_function_is_built_with_its_bytecode(artifacts: HostArtifacts) -> None:
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    for name, task_root in artifacts.functions.items():
        assert (task_root / "__pycache__" / f"app.{tag}.pyc").is_file(), name
    for name, layer in artifacts.layers.items():
        assert list((layer / "python").rglob(f"*.{tag}.pyc")), name


def test_webhook_answers_the_handshake_and_queues_a_signed_post(
    artifacts: HostArtifacts, aws: tuple[str, LocalStack], template: Template
) -> None:
    handshake = load_event("apigw/webhook_get_verify.json")
    handshake["queryStringParameters"]["hub.verify_token"] = LOCAL_VERIFY_TOKEN
    output = invoke("WebhookFunction", handshake, artifacts, aws, template)
    assert output["answer"]["statusCode"] == 200
    assert output["origins"]["pydantic"] is None  # the webhook's cold path stays lean

    body = json.dumps(load_event("webhooks/message_text.json")).encode()
    post = http_api_event(
        method="POST",
        path="/webhook",
        route_key="POST /webhook",
        headers=[("x-hub-signature-256", sign(body, LOCAL_APP_SECRET))],
        body=body,
    )
    assert invoke("WebhookFunction", post, artifacts, aws, template)["answer"]["statusCode"] == 200


def test_processor_stores_a_queued_webhook(
    artifacts: HostArtifacts, aws: tuple[str, LocalStack], template: Template
) -> None:
    event = load_event("sqs/webhook_message_text.json")
    output = invoke("ProcessorFunction", event, artifacts, aws, template)
    assert output["answer"] == {"batchItemFailures": []}
    assert output["origins"]["pydantic"] is not None


def test_sender_applies_its_rules_with_the_table(
    artifacts: HostArtifacts, aws: tuple[str, LocalStack], template: Template
) -> None:
    # Nobody wrote from this number: refused locally with Meta's 131047, after reading the profile.
    request = {"to": "16505550199", "type": "text", "text": {"body": "Hello?"}}
    output = invoke("SenderFunction", request, artifacts, aws, template)
    [result] = output["answer"]["results"]
    assert (result["status"], result["error"]["code"]) == ("failed", 131047)
