"""``wactl dlq``: dead-lettered webhooks are listed and replayed intact, against the template's queues."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from support.aws import REGION, table_items
from support.processor import ThrottledBatchWrites, sqs_event
from wacloud.meta.signature import sign
from wacloud.table.client import TableClient
from wactl import target as targets
from wactl.cli import run
from wactl.dlq import replay
from wactl.output import shorten
from walocal.events import EVENTS_DIR, load_event
from walocal.functions import LocalFunction
from walocal.poller import QueuePoller
from walocal.ports import free_ports
from walocal.provision import LocalStack, provision
from walocal.runtime import LOCAL_APP_SECRET
from walocal.template import Template

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

STATUS_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIxMkYzNzQ0Q0IyQkQ3NTI2NDkA"


@pytest.fixture
def sqs(stack: LocalStack) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def urls(stack: LocalStack) -> list[str]:
    return target_args(stack)


def target_args(stack: LocalStack) -> list[str]:
    """The CloudFormation-free way to name the target: the provisioned queues' URLs."""
    return [
        "--webhook-queue-url",
        stack.queue_urls["WebhookQueue"],
        "--dead-letter-queue-url",
        stack.queue_urls["WebhookDeadLetterQueue"],
        "--wait",
        "0",
    ]


def wactl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Everything on the queue, left in place (visible again at once)."""
    seen: dict[str, dict[str, Any]] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        seen.update({message["MessageId"]: message for message in batch})
    for message in seen.values():
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return sorted(seen.values(), key=lambda message: message["Body"])


def webhook_attributes(received_at_ms: int, request_id: str) -> dict[str, Any]:
    return {
        "received_at_ms": {"DataType": "Number", "StringValue": str(received_at_ms)},
        "request_id": {"DataType": "String", "StringValue": request_id},
        "payload_location": {"DataType": "String", "StringValue": "inline"},
    }


def status_body(status: str, timestamp: str, wamid: str = STATUS_WAMID) -> str:
    payload = json.loads((EVENTS_DIR / "webhooks" / "status_read.json").read_text())
    update = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    update.update(id=wamid, status=status, timestamp=timestamp)
    return json.dumps(payload)


# ------------------------------------------------------------------------- the whole story
def test_a_webhook_failed_five_times_waits_intact_with_why_and_is_replayed_after_the_fix(
    stack: LocalStack,
    load_function: Callable[[str], LocalFunction],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs, urls = boto3.client("sqs", region_name=REGION), target_args(stack)
    queue, dead_letters = stack.queue_urls["WebhookQueue"], stack.queue_urls["WebhookDeadLetterQueue"]
    # Redeliver at once instead of after the template's visibility timeout, and back off without
    # waiting: what is tested here is where the failure ends up.
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "0"})
    monkeypatch.setattr(TableClient, "_wait", lambda *args: None)
    session = boto3.DEFAULT_SESSION
    assert session is not None

    # A hot partition: DynamoDB throttles every batch write for a while. The webhook function
    # queues the POST as always.
    body = status_body("read", "1763700400").encode()
    event: dict[str, Any] = copy.deepcopy(load_event("apigw/webhook_post_message_text.json"))
    event["body"] = body.decode()
    event["headers"]["x-hub-signature-256"] = sign(body, LOCAL_APP_SECRET)
    event["headers"]["content-length"] = str(len(body))
    assert load_function("WebhookFunction").invoke(event)["statusCode"] == 200

    with ThrottledBatchWrites(throttled=1_000_000).installed(session):
        # The processor fails it on each of its 5 receives; the sixth receive finds it dead-lettered.
        (source,) = [s for s in stack.template.queue_sources() if s.queue == "WebhookQueue"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        poller = QueuePoller(sqs, source, queue, arn, load_function("ProcessorFunction"))
        assert [poller.poll_once(wait_seconds=0) for _ in range(6)] == [1, 1, 1, 1, 1, 0]
    assert receive_all(sqs, queue) == []
    (dead,) = receive_all(sqs, dead_letters)
    assert dead["Body"] == body.decode()
    attributes = dead["MessageAttributes"]
    assert {name: value["StringValue"] for name, value in attributes.items() if name != "received_at_ms"} == {
        "request_id": event["requestContext"]["requestId"],
        "payload_location": "inline",
    }
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 5
    assert not [item for item in table_items(stack) if item["pk"].startswith("MSG#")]

    reason = "TableUnavailableError: BatchWriteItem left 1 item unwritten after 8 attempts (throttled)"
    code, out, _ = wactl(capsys, "dlq", "list", *urls, "--table-name", stack.table_names["MessagesTable"])
    assert code == 0
    assert "1 waiting, 0 in flight; showing 1." in out
    (line,) = [line for line in out.splitlines() if line.startswith(dead["MessageId"])]
    assert f"{len(body):,}" in line
    assert "webhook: 1 status (read)" in line
    assert shorten(reason, 60) in line
    code, out, _ = wactl(
        capsys, "dlq", "list", "--json", *urls, "--table-name", stack.table_names["MessagesTable"]
    )
    (listed,) = json.loads(out)["messages"]
    assert listed["failure"]["reason"] == reason
    assert listed["failure"]["receive_count"] == 5

    code, out, err = wactl(capsys, "dlq", "replay", "--dry-run", "--json", *urls)
    assert code == 0
    assert json.loads(out)["replayed"] == [dead["MessageId"]]
    assert "would replay" in err
    assert receive_all(sqs, queue) == []
    assert len(receive_all(sqs, dead_letters)) == 1

    # The fix: the throttling is over (capacity raised, the hot key spread).
    code, out, _ = wactl(capsys, "dlq", "replay", *urls)
    assert code == 0
    assert "replayed" in out
    assert f"Replayed 1 from {dead_letters} to {queue}" in out
    assert receive_all(sqs, dead_letters) == []
    (replayed,) = receive_all(sqs, queue)
    assert replayed["Body"] == body.decode()
    assert replayed["MessageAttributes"] == attributes

    assert poller.poll_once(wait_seconds=0) == 1
    assert receive_all(sqs, queue) == []
    items = {(item["pk"], item["sk"]): item for item in table_items(stack)}
    assert items[(f"MSG#{STATUS_WAMID}", "MESSAGE")]["status"] == "read"
    assert int(items[(f"MSG#{STATUS_WAMID}", "MESSAGE")]["status_at"]) == 1763700400
    # Archived once, under the webhook's original receipt: replay kept the attributes.
    (raw,) = [item for key, item in items.items() if key[0].startswith("RAW#") and key[1] == "RAW"]
    received = attributes["received_at_ms"]["StringValue"]
    assert (raw["body"], str(raw["received_at_ms"])) == (body.decode(), received)


def test_rejected_payloads_are_listed_with_why_and_purged_with_the_dead_letters(
    stack: LocalStack,
    load_function: Callable[[str], LocalFunction],
    sqs: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead_letters = stack.queue_urls["WebhookDeadLetterQueue"]
    urls = [*target_args(stack), "--table-name", stack.table_names["MessagesTable"]]
    rejected = {
        "this is not json": "not JSON: Expecting value at line 1 column 1",
        "[]": "not a webhook: the JSON is a list, not an object",
    }
    now_ms = int(time.time() * 1000)
    processor = load_function("ProcessorFunction")
    for body in rejected:
        assert processor.invoke(sqs_event(body, received_at_ms=now_ms)) == {"batchItemFailures": []}
    sqs.send_message(
        QueueUrl=dead_letters,
        MessageBody=status_body("sent", "1763700000"),
        MessageAttributes=webhook_attributes(now_ms, "req-1"),
    )

    code, out, _ = wactl(capsys, "dlq", "list", *urls)
    assert code == 0
    assert "1 waiting, 0 in flight; showing 1." in out
    assert "Rejected payloads (not webhooks: archived, never retried), last 14 days: 2" in out
    for body, reason in rejected.items():
        (line,) = [line for line in out.splitlines() if hashlib.sha256(body.encode()).hexdigest() in line]
        assert line.endswith(reason)
    code, out, _ = wactl(capsys, "dlq", "list", "--json", *urls)
    document = json.loads(out)
    assert sorted(entry["reason"] for entry in document["rejected"]) == sorted(rejected.values())
    assert document["messages"][0]["failure"] is None  # dead-lettered with no reason noted

    code, out, _ = wactl(capsys, "dlq", "purge", "--dry-run", *urls)
    assert code == 0
    assert "Would purge 1 dead-lettered and would dismiss 2 rejected" in out
    assert len(receive_all(sqs, dead_letters)) == 1

    code, out, _ = wactl(capsys, "dlq", "purge", "--json", *urls)
    assert code == 0
    document = json.loads(out)
    assert (len(document["purged"]), len(document["dismissed"]), document["failed"]) == (1, 2, [])
    assert receive_all(sqs, dead_letters) == []
    code, out, _ = wactl(capsys, "dlq", "list", *urls)
    assert out.splitlines()[-1] == "Empty: nothing to replay."
    # Dismissed, not forgotten: each body is still archived, with why it was rejected.
    for body, reason in rejected.items():
        stored = {(i["pk"], i["sk"]): i for i in table_items(stack)}[
            (f"RAW#{hashlib.sha256(body.encode()).hexdigest()}", "RAW")
        ]
        assert (stored["body"], stored["rejected"], "gsi2pk" in stored) == (body, reason, False)


def test_without_the_table_the_queue_is_still_listed(
    stack: LocalStack, sqs: Any, urls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sqs.send_message(QueueUrl=stack.queue_urls["WebhookDeadLetterQueue"], MessageBody="{}")
    code, out, err = wactl(capsys, "dlq", "list", *urls)
    assert code == 0
    assert "1 waiting" in out
    assert (
        err == "wactl: note: no table named: give --table-name to see failure reasons and rejected payloads\n"
    )
    code, out, err = wactl(capsys, "dlq", "list", *urls, "--table-name", "no-such-table", "--json")
    assert code == 0
    assert json.loads(out)["waiting"] == 1
    assert "failure reasons and rejected payloads unavailable: cannot read table no-such-table" in err


# ------------------------------------------------------------------------- list
def test_list_counts_and_describes_each_message_and_leaves_them(
    stack: LocalStack, sqs: Any, urls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letters = stack.queue_urls["WebhookDeadLetterQueue"]
    batch = (EVENTS_DIR / "webhooks" / "batch_mixed.json").read_text()
    pointer = json.dumps(
        {"s3": {"bucket": "b", "key": "inbound/x.json"}, "size": 2_000_000, "sha256": "0" * 64}
    )
    bodies = {"batch": batch, "text": "this is not json", "pointer": pointer}
    ids = {}
    for name, body in bodies.items():
        attributes = webhook_attributes(1763700000000, f"req-{name}")
        if name == "pointer":
            attributes["payload_location"]["StringValue"] = "s3"
        ids[name] = sqs.send_message(QueueUrl=dead_letters, MessageBody=body, MessageAttributes=attributes)[
            "MessageId"
        ]

    code, out, _ = wactl(capsys, "dlq", "list", *urls)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[3:-1]}
    assert set(lines) == set(ids.values())
    assert "3 waiting, 0 in flight; showing 3." in out
    assert (
        "webhook: 3 messages (image, reaction, text), 5 statuses (delivered x2, failed, read, sent), "
        "1 other field (message_template_status_update)"
    ) in lines[ids["batch"]]
    assert "not JSON: 'this is not json'" in lines[ids["text"]]
    assert "payload in s3://b/inbound/x.json (2,000,000 bytes)" in lines[ids["pointer"]]
    assert f"{len(batch.encode()):,}" in lines[ids["batch"]]

    code, out, _ = wactl(capsys, "dlq", "list", "--json", *urls)
    assert code == 0
    document = json.loads(out)
    assert (document["waiting"], document["in_flight"]) == (3, 0)
    by_id = {message["message_id"]: message for message in document["messages"]}
    assert by_id[ids["text"]]["size"] == len("this is not json")
    assert by_id[ids["text"]]["preview"] == "this is not json"
    assert by_id[ids["text"]]["attributes"]["request_id"] == "req-text"
    assert by_id[ids["batch"]]["receive_count"] == 2  # one per look: the human and the JSON listing

    # Looking moved nothing and hid nothing.
    assert sorted(m["MessageId"] for m in receive_all(sqs, dead_letters)) == sorted(ids.values())
    code, out, _ = wactl(capsys, "dlq", "list", "--max", "2", "--json", *urls)
    assert len(json.loads(out)["messages"]) == 2


def test_an_empty_dead_letter_queue_says_so(
    stack: LocalStack, urls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = wactl(capsys, "dlq", "list", *urls)
    assert (code, out.splitlines()[-1]) == (0, "Empty: nothing to replay.")
    code, out, _ = wactl(capsys, "dlq", "replay", *urls)
    assert code == 0
    assert "Replayed 0 from" in out


# ------------------------------------------------------------------------- replay
def test_replay_max_moves_that_many_with_body_and_attributes(
    stack: LocalStack, sqs: Any, urls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    queue, dead_letters = stack.queue_urls["WebhookQueue"], stack.queue_urls["WebhookDeadLetterQueue"]
    sent = {}
    for index in range(5):
        body = status_body("delivered", str(1763700000 + index), wamid=f"wamid.OUT{index}")
        attributes = webhook_attributes(1763700000000 + index, f"req-{index}")
        attributes["checksum"] = {"DataType": "Binary", "BinaryValue": bytes([index, 0, 255])}
        sqs.send_message(QueueUrl=dead_letters, MessageBody=body, MessageAttributes=attributes)
        sent[body] = attributes

    code, out, err = wactl(capsys, "dlq", "replay", "--max", "2", "--json", *urls)
    assert code == 0
    document = json.loads(out)
    assert len(document["replayed"]) == 2
    assert (document["failed"], document["not_deleted"], document["dry_run"]) == ([], [], False)
    assert err.count("replayed") == 2
    moved = receive_all(sqs, queue)
    left = receive_all(sqs, dead_letters)
    assert len(moved) == 2
    assert len(left) == 3
    assert {m["Body"] for m in moved} | {m["Body"] for m in left} == set(sent)
    for message in moved:
        assert message["MessageAttributes"] == sent[message["Body"]]

    code, out, _ = wactl(capsys, "dlq", "replay", *urls)
    assert code == 0
    assert len(receive_all(sqs, queue)) == 5
    assert receive_all(sqs, dead_letters) == []


class FailingSends:
    """An SQS client whose sends of one body fail, as a throttled or denied send would."""

    def __init__(self, sqs: Any, failing_body: str) -> None:
        self._sqs = sqs
        self._failing_body = failing_body
        self.deleted: list[str] = []

    def send_message(self, **request: Any) -> Any:
        if request["MessageBody"] == self._failing_body:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "SendMessage")
        return self._sqs.send_message(**request)

    def delete_message(self, **request: Any) -> Any:
        self.deleted.append(request["ReceiptHandle"])
        return self._sqs.delete_message(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


def test_a_message_whose_send_fails_is_never_deleted(stack: LocalStack, sqs: Any) -> None:
    queue, dead_letters = stack.queue_urls["WebhookQueue"], stack.queue_urls["WebhookDeadLetterQueue"]
    bodies = [status_body("sent", str(1763700000 + index), wamid=f"wamid.OUT{index}") for index in range(3)]
    for body in bodies:
        sqs.send_message(QueueUrl=dead_letters, MessageBody=body)
    client = FailingSends(sqs, failing_body=bodies[1])
    outcomes: list[str] = []

    report = replay(
        cast("SQSClient", client),
        dead_letters,
        queue,
        wait_seconds=0,
        on_progress=lambda outcome, _: outcomes.append(outcome),
    )

    assert [letter.body for letter, _ in report.failed] == [bodies[1]]
    assert "AccessDenied" in report.failed[0][1]
    assert sorted(letter.body for letter in report.replayed) == sorted([bodies[0], bodies[2]])
    assert sorted(outcomes) == ["failed: AccessDenied: denied", "replayed", "replayed"]
    assert len(client.deleted) == 2
    # Still dead-lettered, and visible again at once for the next attempt.
    assert [m["Body"] for m in receive_all(sqs, dead_letters)] == [bodies[1]]
    assert sorted(m["Body"] for m in receive_all(sqs, queue)) == sorted([bodies[0], bodies[2]])


def test_replay_to_a_queue_that_does_not_exist_touches_nothing(
    stack: LocalStack, sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letters = stack.queue_urls["WebhookDeadLetterQueue"]
    sqs.send_message(QueueUrl=dead_letters, MessageBody="{}")
    missing = stack.queue_urls["WebhookQueue"] + "-gone"
    code, _, err = wactl(
        capsys,
        "dlq",
        "replay",
        "--webhook-queue-url",
        missing,
        "--dead-letter-queue-url",
        dead_letters,
        "--wait",
        "0",
    )
    assert code == 1
    assert err.startswith(f"wactl: error: cannot read queue {missing}")
    assert [m["Body"] for m in receive_all(sqs, dead_letters)] == ["{}"]


# ------------------------------------------------------------------------- targets
def test_a_stack_is_found_by_its_outputs(aws_credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        template = {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "DeadLetters": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {
                "WebhookQueueUrl": {"Value": {"Ref": "Queue"}},
                "WebhookDeadLetterQueueUrl": {"Value": {"Ref": "DeadLetters"}},
                "MessagesTableName": {"Value": "whatsapp-cloud-MessagesTable-1X2Y3Z"},
                "PayloadBucketName": {"Value": "whatsapp-cloud-payloadbucket-1x2y3z"},
            },
        }
        cloudformation = session.client("cloudformation")
        cloudformation.create_stack(StackName="whatsapp-cloud", TemplateBody=json.dumps(template))
        cloudformation.create_stack(
            StackName="something-else",
            TemplateBody=json.dumps(
                {"Resources": template["Resources"], "Outputs": {"Other": {"Value": "x"}}}
            ),
        )

        found = targets.stack(session, "whatsapp-cloud")
        outputs = cloudformation.describe_stacks(StackName="whatsapp-cloud")["Stacks"][0]["Outputs"]
        by_key = {output["OutputKey"]: output["OutputValue"] for output in outputs}
        assert (found.webhook_queue_url, found.dead_letter_queue_url) == (
            by_key["WebhookQueueUrl"],
            by_key["WebhookDeadLetterQueueUrl"],
        )
        assert (found.table_name, found.payload_bucket) == (
            "whatsapp-cloud-MessagesTable-1X2Y3Z",
            "whatsapp-cloud-payloadbucket-1x2y3z",
        )

        session.client("sqs").send_message(QueueUrl=found.dead_letter_queue_url, MessageBody="{}")
        code, out, _ = wactl(
            capsys, "dlq", "list", "--json", "--wait", "0"
        )  # --stack whatsapp-cloud by default
        assert code == 0
        assert json.loads(out)["queue_url"] == found.dead_letter_queue_url
        assert len(json.loads(out)["messages"]) == 1

        code, _, err = wactl(capsys, "dlq", "list", "--stack", "nope")
        assert code == 1
        assert "cannot read stack 'nope'" in err
        code, _, err = wactl(capsys, "dlq", "list", "--stack", "something-else")
        assert code == 1
        assert "has no output WebhookQueueUrl, WebhookDeadLetterQueueUrl" in err


def test_explicit_urls_come_in_pairs(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = wactl(capsys, "dlq", "list", "--webhook-queue-url", stack.queue_urls["WebhookQueue"])
    assert code == 1
    assert "give both --webhook-queue-url and --dead-letter-queue-url" in err


@pytest.fixture
def local_runtime_aws(
    aws_credentials: None, template: Template, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, LocalStack]]:
    """The emulated AWS of the local runtime, over HTTP, provisioned as `make run` does."""
    [port] = free_ports(1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    try:
        yield endpoint, provision(template, boto3.Session(region_name=REGION))
    finally:
        server.stop()


def test_local_finds_the_local_runtime_by_its_names(
    local_runtime_aws: tuple[str, LocalStack],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, stack = local_runtime_aws
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # wactl --local must find it by itself
    found = targets.local(boto3.Session(region_name=REGION), endpoint)
    assert (found.webhook_queue_url, found.dead_letter_queue_url) == (
        stack.queue_urls["WebhookQueue"],
        stack.queue_urls["WebhookDeadLetterQueue"],
    )
    assert (found.table_name, found.payload_bucket) == (
        stack.table_names["MessagesTable"],
        stack.bucket_names["PayloadBucket"],
    )

    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    sqs.send_message(QueueUrl=found.dead_letter_queue_url, MessageBody="{}")
    code, out, _ = wactl(
        capsys, "dlq", "replay", "--local", "--endpoint-url", endpoint, "--wait", "0", "--json"
    )
    assert code == 0
    assert len(json.loads(out)["replayed"]) == 1
    assert [m["Body"] for m in receive_all(sqs, found.webhook_queue_url)] == ["{}"]


def test_local_says_when_the_runtime_is_not_running(
    aws_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = wactl(
        capsys, "dlq", "list", "--local", "--endpoint-url", f"http://127.0.0.1:{free_ports(1)[0]}"
    )
    assert code == 1
    assert "is it running (make run)?" in err


def test_without_a_configured_region_queue_urls_name_it(
    stack: LocalStack, urls: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    code, out, _ = wactl(capsys, "dlq", "list", "--json", *urls)
    assert (code, json.loads(out)["queue_url"]) == (0, stack.queue_urls["WebhookDeadLetterQueue"])
    code, _, err = wactl(capsys, "dlq", "list")
    assert code == 1
    assert "no AWS region: give --region or set AWS_REGION" in err
