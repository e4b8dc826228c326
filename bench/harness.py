"""What the benchmarks share: events as AWS delivers them, the functions loaded as Lambda loads
them, and the template's stack emulated by moto (for counting calls, never for timing them)."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from bench.standin import SECRET
from wacloud.core.observability import logger
from wacloud.meta.signature import sign
from walocal.events import EVENTS_DIR, load_event
from walocal.functions import LambdaContext, load_module
from walocal.provision import LocalStack, provision
from walocal.template import FunctionSpec, Resolver, Template

PHONE_NUMBER_ID = "123456789012345"


def webhook_body(name: str) -> bytes:
    """A webhook fixture as Meta sends it: compact JSON."""
    return json.dumps(json.loads((EVENTS_DIR / "webhooks" / f"{name}.json").read_text())).encode()


def with_wamid(body: bytes, wamid: str) -> bytes:
    """The same POST about another message: each one stored anew, not as a redelivery."""
    payload = json.loads(body)
    value = payload["entry"][0]["changes"][0]["value"]
    for kind in ("messages", "statuses"):
        for update in value.get(kind, []):
            update["id"] = wamid
    return json.dumps(payload).encode()


def padded(body: bytes, size: int) -> bytes:
    """A text message whose body makes the POST ``size`` bytes long."""
    payload = json.loads(body)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["text"]["body"] += "x" * max(0, size - len(body))
    return json.dumps(payload).encode()


def api_event(body: bytes) -> dict[str, Any]:
    """The HTTP API's event for a signed POST of ``body``."""
    event: dict[str, Any] = load_event("apigw/webhook_post_message_text.json")
    event["body"] = body.decode()
    event["headers"]["content-length"] = str(len(body))
    event["headers"]["x-hub-signature-256"] = sign(body, SECRET["app_secret"])
    return event


def sqs_event(*bodies: bytes, received_at_ms: int = 1763700100000) -> dict[str, Any]:
    """An SQS event with one record per queued POST, as Lambda delivers it."""
    template = load_event("sqs/webhook_message_text.json")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        text = body.decode()
        record["messageId"] = f"00000000-0000-4000-8000-{index:012d}"
        record["body"] = text
        record["md5OfBody"] = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SQS's checksum)
        record["messageAttributes"]["received_at_ms"]["stringValue"] = str(received_at_ms)
        records.append(record)
    return {"Records": records}


@dataclass
class Loaded:
    """A function loaded as Lambda would, invoked with a context of its template's sizes."""

    spec: FunctionSpec
    module: ModuleType

    def __call__(self, event: Any) -> Any:
        context = LambdaContext(
            self.spec.logical_id, self.spec.memory_size, self.spec.timeout, str(uuid.uuid4())
        )
        return getattr(self.module, self.spec.handler.rpartition(".")[2])(event, context)


def load(name: str, environment: Mapping[str, str]) -> Loaded:
    """Cold-start a function of the template with ``environment`` in os.environ (left there: its
    clients read it again when they are created lazily)."""
    spec = Template.load().functions()[name]
    # Errors only: log ingestion is not counted, and INFO lines would flood the table's output.
    os.environ.update({**environment, "POWERTOOLS_LOG_LEVEL": "ERROR"})
    return Loaded(spec, load_module(spec))


class _Anything(dict[tuple[str, str], str]):
    def __missing__(self, key: tuple[str, str]) -> str:
        return f"{key[0]}-{key[1]}"


def function_environment(name: str, **overrides: str) -> dict[str, str]:
    """A function's environment from template.yaml, every resource standing in by name."""
    template = Template.load()
    resolver = Resolver(
        parameters={**template.parameter_defaults(), "PhoneNumberId": PHONE_NUMBER_ID},
        conditions_source=template.body.get("Conditions", {}),
        refs={resource: f"https://example.test/{resource}" for resource in template.resources},
        attributes=_Anything(),
        pseudo={
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "whatsapp-cloud",
        },
    )
    spec = template.functions()[name]
    environment = {key: str(resolver.resolve(value)) for key, value in spec.environment.items()}
    return {**environment, **overrides}


@contextmanager
def log_sink() -> Iterator[None]:
    """The functions' log (their metrics: a line per invocation) written to /dev/null, as Lambda's
    log pipe takes it, rather than over the benchmark's table."""
    handler = logger.registered_handler
    with open(os.devnull, "w", encoding="utf-8") as sink, redirect_stdout(sink):
        previous = handler.setStream(sink) if isinstance(handler, logging.StreamHandler) else None
        try:
            yield
        finally:
            if previous is not None and isinstance(handler, logging.StreamHandler):
                handler.setStream(previous)


@contextmanager
def saved_environment() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def emulated_stack() -> Iterator[tuple[LocalStack, Callable[..., Loaded]]]:
    """The template's queues, table, bucket and secret in moto, and a loader of its functions
    with their resolved environment."""
    from moto import mock_aws  # noqa: PLC0415 (moto is only needed by the counting benchmarks)

    template = Template.load()
    with saved_environment():
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_REGION="us-east-1",
            POWERTOOLS_LOG_LEVEL="ERROR",
        )
        with mock_aws():
            session = boto3.DEFAULT_SESSION = boto3.Session(region_name="us-east-1")
            stack = provision(
                template,
                session,
                parameters={"PhoneNumberId": PHONE_NUMBER_ID, "GraphApiUrl": "https://graph.test"},
                secret_values=SECRET,
            )

            def loader(name: str, **overrides: str) -> Loaded:
                spec = template.functions()[name]
                return load(name, {**stack.function_environment(spec), **overrides})

            try:
                yield stack, loader
            finally:
                boto3.DEFAULT_SESSION = None


FLOORS_DIR = Path(__file__).resolve().parent / "floors"


def load_floor(name: str, environment: Mapping[str, str], *, memory_mb: int = 128) -> Loaded:
    """A floor program cold-started as a function of ``memory_mb`` (the smallest Lambda size)."""
    os.environ.update(environment)
    spec = FunctionSpec(
        logical_id=f"Floor{name.title()}",
        code_dir=FLOORS_DIR,
        handler=f"{name}.handler",
        timeout=30,
        memory_size=memory_mb,
    )
    return Loaded(spec, load_module(spec))


def lambda_sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS poller makes of received messages (attributes in its own casing)."""
    template = load_event("sqs/webhook_message_text.json")["Records"][0]
    records = []
    for message in messages:
        record = copy.deepcopy(template)
        record.update(
            messageId=message["MessageId"],
            receiptHandle=message["ReceiptHandle"],
            body=message["Body"],
            md5OfBody=message["MD5OfBody"],
            messageAttributes={
                name: {
                    "stringValue": attribute.get("StringValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": attribute["DataType"],
                }
                for name, attribute in (message.get("MessageAttributes") or {}).items()
            },
        )
        records.append(record)
    return {"Records": records}
