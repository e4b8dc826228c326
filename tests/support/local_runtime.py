"""The local runtime (``python -m walocal``) started on free ports for an end-to-end test."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import requests

from wacloud.meta.signature import sign
from walocal.ports import free_ports
from walocal.runtime import LOCAL_APP_SECRET

T = TypeVar("T")
TABLE = "whatsapp-cloud-MessagesTable"

WACTL = [sys.executable, "-m", "wactl"]


def admin_session() -> boto3.Session:
    """The local runtime's administrator: the keys its own clients and the tests use."""
    return boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def eventually(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.1)


@dataclass
class RunningRuntime:
    webhook_url: str
    invoke_url: str
    graph_url: str
    aws_url: str
    log_path: Path
    process: subprocess.Popen[str]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[str]:
        return self.log().splitlines()

    def invoke(
        self,
        event: Any,
        function: str = "SenderFunction",
        *,
        timeout: float = 90,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """Invoke a function through the runtime's Lambda Invoke API (RequestResponse by default)."""
        return requests.post(
            f"{self.invoke_url}/2015-03-31/functions/{function}/invocations",
            data=json.dumps(event),
            headers=headers,
            timeout=timeout,
        )

    def post_webhook(self, body: bytes, secret: str = LOCAL_APP_SECRET) -> requests.Response:
        """POST ``body`` to the webhook signed as Meta signs it (with ``secret``)."""
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(body, secret)}
        return requests.post(self.webhook_url, data=body, headers=headers, timeout=30)

    def wactl(self, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """The operator CLI as a separate process, pointed at this runtime's ports (with no AWS
        settings of the caller's: the local ones are the runtime's administrator's)."""
        return subprocess.run(
            [*WACTL, *argv, "--local", "--endpoint-url", self.aws_url, "--invoke-url", self.invoke_url],
            env={name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def client(self, service: str, endpoint_url: str | None = None, **options: Any) -> Any:
        """A client of the emulated AWS (or of ``endpoint_url``) as the runtime's administrator."""
        return admin_session().client(service, endpoint_url=endpoint_url or self.aws_url, **options)  # type: ignore[call-overload]

    def table(self) -> Any:
        """The messages table, as the runtime's administrator."""
        return admin_session().resource("dynamodb", endpoint_url=self.aws_url).Table(TABLE)


_START_ATTEMPTS = 3
# What wa-local prints when a port it was given is taken (tests/e2e/test_lambda_runtime.py holds
# it to that).
PORT_TAKEN = "is already in use"


class _PortTaken(Exception):
    """The runtime stopped at start: one of its ports was taken after it was chosen."""


def _ready(runtime: RunningRuntime, *, retry_taken_port: bool) -> bool:
    if runtime.process.poll() is not None:
        log = runtime.log()
        if retry_taken_port and PORT_TAKEN in log:
            raise _PortTaken
        raise AssertionError(f"the local runtime exited early:\n{log}")
    try:
        return requests.post(f"{runtime.invoke_url}/", timeout=5).status_code == 404
    except requests.RequestException:  # not listening yet
        return False


@contextmanager
def local_runtime(
    log_path: Path,
    *,
    template: Path | None = None,
    env: dict[str, str] | None = None,
    parameters: dict[str, str] | None = None,
) -> Iterator[RunningRuntime]:
    """Start ``wa-local`` on free ports with no AWS, WhatsApp or Graph settings of the caller's;
    ready once its Lambda Invoke API answers (it opens after every function's first cold start).

    A port chosen free may be taken by another program before the runtime binds it (tests run
    side by side): the runtime is then started again on other ports, a few times."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WHATSAPP_", "GRAPH_API"))
    }
    # The reply bot would answer every message the tests send: only the tests of the bot want it.
    parameters = {"ReplyBot": "Disabled", **(parameters or {})}
    for attempt in range(1, _START_ATTEMPTS + 1):
        ports = free_ports(4)
        command = [sys.executable, "-m", "walocal", *(["--template", str(template)] if template else [])]
        for option, port in zip(("webhook", "invoke", "graph", "aws"), ports, strict=True):
            command += [f"--{option}-port", str(port)]
        command += ["--parameter-overrides", *(f"{name}={value}" for name, value in parameters.items())]
        # A file, not a pipe: nobody reads the runtime's logs while it runs, and a full pipe would
        # block it.
        with log_path.open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                command, env={**environment, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, text=True
            )
        runtime = RunningRuntime(
            webhook_url=f"http://127.0.0.1:{ports[0]}/webhook",
            invoke_url=f"http://127.0.0.1:{ports[1]}",
            graph_url=f"http://127.0.0.1:{ports[2]}",
            aws_url=f"http://127.0.0.1:{ports[3]}",
            log_path=log_path,
            process=process,
        )
        try:
            eventually(
                functools.partial(_ready, runtime, retry_taken_port=attempt < _START_ATTEMPTS), timeout=120
            )
            break
        except _PortTaken:
            continue
        except BaseException:
            _stop(process)
            raise
    try:
        yield runtime
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
