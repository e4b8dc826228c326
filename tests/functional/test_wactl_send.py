"""``wactl send`` and ``wactl reminders run``: the sender function invoked over the Lambda Invoke API.

The sender of template.yaml runs behind the local runtime's Invoke API server (as ``make run``
serves it), against the emulated stack and a scripted Graph API, so every assertion is on what
Meta received and what the table holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from support.aws import REGION
from support.contacts import SeedingStore
from support.fake_graph import FakeGraphServer
from support.pipeline import deploy_outputs, wactl
from walocal.events import EVENTS_DIR
from walocal.functions import LocalFunction
from walocal.invoke_api import InvokeApiServer
from walocal.provision import LocalStack

KERRY = "16505551234"
STRANGER = "16505550199"
DEPLOYED_NAME = "whatsapp-cloud-SenderFunction-1X2Y3Z4W"


@pytest.fixture
def invoke_url(sender: LocalFunction) -> Iterator[str]:
    """The Invoke API serving the sender, under its local name and as a deployed stack names it."""
    server = InvokeApiServer(("127.0.0.1", 0), {"SenderFunction": sender, DEPLOYED_NAME: sender})
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def local(invoke_url: str) -> list[str]:
    return ["--local", "--invoke-url", invoke_url]


def store(stack: LocalStack) -> SeedingStore:
    return SeedingStore(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )


@pytest.fixture
def kerry_wrote(stack: LocalStack) -> None:
    """Kerry wrote a minute ago: the 24-hour window is open."""
    store(stack).record_inbound(KERRY, int(time.time()) - 60, "wamid.IN1", "Kerry Fisher")


def graph_bodies(graph: FakeGraphServer) -> list[dict[str, Any]]:
    return [request.body for request in graph.fake.requests]


# ------------------------------------------------------------------------- send
def test_a_text_is_sent_and_recorded(
    stack: LocalStack,
    kerry_wrote: None,
    invoke_url: str,
    graph: FakeGraphServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = wactl(capsys, "send", *local(invoke_url), "--to", KERRY, "--text", "Your order shipped")

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Sending 1 message through SenderFunction ..."
    assert lines[1] == f"SenderFunction (local runtime at {invoke_url}): 1 accepted, 0 failed"
    assert lines[3].split() == [KERRY, "accepted", "wamid.FAKE000001", "-"]
    assert graph_bodies(graph) == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": KERRY,
            "type": "text",
            "text": {"body": "Your order shipped"},
        }
    ]
    record = store(stack).message("wamid.FAKE000001")
    assert record is not None
    assert (record["direction"], record["text"]) == ("outbound", "Your order shipped")


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        (
            ["--template", "daily_reminder", "--param", "Kerry"],
            {
                "type": "template",
                "template": {
                    "name": "daily_reminder",
                    "language": {"code": "en_US"},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "Kerry"}]}],
                },
            },
        ),
        (
            ["--template", "hello_world", "--language", "pt_BR"],
            {"type": "template", "template": {"name": "hello_world", "language": {"code": "pt_BR"}}},
        ),
        (
            ["--image-url", "https://example.com/menu.jpg", "--caption", "Today's menu"],
            {"type": "image", "image": {"link": "https://example.com/menu.jpg", "caption": "Today's menu"}},
        ),
        (
            ["--location-request", "Where should we deliver?"],
            {
                "type": "interactive",
                "interactive": {
                    "type": "location_request_message",
                    "body": {"text": "Where should we deliver?"},
                    "action": {"name": "send_location"},
                },
            },
        ),
        (
            ["--text", "Yes", "--reply-to", "wamid.IN1"],
            {"type": "text", "text": {"body": "Yes"}, "context": {"message_id": "wamid.IN1"}},
        ),
    ],
)
@pytest.mark.usefixtures("kerry_wrote")
def test_each_kind_of_option_reaches_meta_as_its_graph_body(
    invoke_url: str,
    graph: FakeGraphServer,
    options: list[str],
    sent: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = wactl(capsys, "send", *local(invoke_url), "--to", f"+{KERRY}", *options)
    assert code == 0
    [body] = graph_bodies(graph)
    assert body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": KERRY, **sent}


def test_a_request_file_is_sent_as_it_is_batch_included(
    kerry_wrote: None, invoke_url: str, graph: FakeGraphServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = EVENTS_DIR / "sender" / "batch.json"
    request = json.loads(path.read_text())

    code, out, _ = wactl(capsys, "send", *local(invoke_url), "--file", str(path), "--json")

    assert code == 0
    document = json.loads(out)
    assert document["request"] == request
    assert [(r["to"], r["status"]) for r in document["results"]] == [
        (KERRY, "accepted"),
        (KERRY, "accepted"),
        (None, "read"),
    ]
    assert [body.get("type", body.get("status")) for body in graph_bodies(graph)] == [
        "template",
        "location",
        "read",
    ]


def test_outside_the_window_the_sender_refuses_and_records_the_failure(
    stack: LocalStack, invoke_url: str, graph: FakeGraphServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = wactl(capsys, "send", *local(invoke_url), "--to", STRANGER, "--text", "hello?", "--json")

    assert code == 1
    [result] = json.loads(out)["results"]
    assert (result["status"], result["error"]["code"], result["error"]["retryable"]) == (
        "failed",
        131047,
        False,
    )
    assert graph_bodies(graph) == []
    code, out, _ = wactl(capsys, "send", *local(invoke_url), "--to", STRANGER, "--text", "hello?")
    assert out.splitlines()[-1].split(maxsplit=3)[:3] == [STRANGER, "failed", "-"]
    assert "131047 Re-engagement message: Refused before sending" in out.splitlines()[-1]
    failed = store(stack).failed_messages(time.strftime("%Y-%m-%d", time.gmtime()))
    assert [(item["wa_id"], item["error_code"]) for item in failed] == [(STRANGER, 131047)] * 2


def test_an_idempotency_key_makes_a_repeat_send_nothing(
    kerry_wrote: None, invoke_url: str, graph: FakeGraphServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "send",
        *local(invoke_url),
        "--to",
        KERRY,
        "--text",
        "once",
        "--idempotency-key",
        "order-1042",
        "--json",
    ]
    first = json.loads(wactl(capsys, *argv)[1])["results"][0]
    again = json.loads(wactl(capsys, *argv)[1])["results"][0]
    assert first == again
    assert len(graph_bodies(graph)) == 1


def test_a_request_the_sender_rejects_is_reported_and_nothing_sent(
    invoke_url: str, graph: FakeGraphServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"to": KERRY, "type": "text"}))
    code, out, _ = wactl(capsys, "send", *local(invoke_url), "--file", str(path))
    assert code == 1
    assert "SenderFunction refused the request (InvalidRequest); nothing was sent:" in out
    assert "  text: " in out
    assert graph_bodies(graph) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--text", "hi"], "--to is needed"),
        (
            ["--to", KERRY],
            "give one of --text, --template NAME, --image-url URL, --image FILE, --document FILE, "
            "--location-request TEXT or --file FILE",
        ),
        (["--to", KERRY, "--text", "hi", "--template", "t"], "give one of"),
        (["--to", KERRY, "--text", "hi", "--location-request", "Where?"], "give one of"),
        (
            ["--file", "events/sender/interactive_flow.json", "--location-request", "Where?"],
            "--file FILE holds the whole request; leave out --location-request",
        ),
        (["--to", KERRY, "--text", "hi", "--caption", "c"], "--caption goes with --image-url"),
        (["--to", KERRY, "--text", "hi", "--param", "p"], "--language and --param go with --template"),
        (
            ["--file", "events/sender/text.json", "--to", KERRY],
            "--file FILE holds the whole request; leave out --to",
        ),
        (["--file", "no/such/file.json"], "cannot read no/such/file.json"),
        # Checked against Meta's limits before anything is put in the bucket or uploaded.
        (["--to", KERRY, "--image", "pyproject.toml"], "image media must be one of image/jpeg, image/png"),
        (["--to", KERRY, "--image", "no/such/photo.jpg"], "cannot read no/such/photo.jpg"),
    ],
)
def test_option_mistakes_are_explained_before_anything_is_invoked(
    argv: list[str], message: str, invoke_url: str, graph: FakeGraphServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = wactl(capsys, "send", *local(invoke_url), *argv)
    assert (code, out) == (1, "")
    assert message in err
    assert graph_bodies(graph) == []


def test_a_stack_is_invoked_by_its_sender_function_output(
    stack: LocalStack,
    kerry_wrote: None,
    invoke_url: str,
    graph: FakeGraphServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy_outputs(stack, SenderFunctionName=DEPLOYED_NAME)
    # The lookup is CloudFormation's; the invoke goes to the Invoke API standing in for Lambda.
    code, out, _ = wactl(capsys, "send", "--invoke-url", invoke_url, "--to", KERRY, "--text", "hi")
    assert code == 0
    assert out.splitlines()[0] == f"Sending 1 message through {DEPLOYED_NAME} ..."
    assert len(graph_bodies(graph)) == 1


def test_a_runtime_that_is_not_running_is_named(
    aws_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = wactl(capsys, "send", *local("http://127.0.0.1:9"), "--to", KERRY, "--text", "hi")
    assert code == 1
    assert "cannot reach http://127.0.0.1:9 to invoke SenderFunction" in err
    assert err.rstrip().endswith("is it running (make run)?")


# ------------------------------------------------------------------------- reminders
def test_reminders_run_fires_the_schedule_once_a_day(
    stack: LocalStack, invoke_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = store(stack)
    now = int(time.time())
    contacts.record_inbound(KERRY, now - 60, "wamid.A", "Kerry Fisher")
    contacts.record_consent(KERRY, True, now - 60, "wamid.A", "keyword:START")
    contacts.record_consent("16505559876", True, now - 50, "wamid.B", "keyword:START")
    contacts.record_consent(STRANGER, False, now - 40, "wamid.C", "keyword:STOP")
    # A user who hides their number: no phone number to send a template to.
    contacts.record_consent("US.27718094401935565312", True, now - 30, "wamid.D", "keyword:START")

    code, out, _ = wactl(capsys, "reminders", "run", *local(invoke_url))

    assert code == 0
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert out.splitlines()[1] == (
        f"Daily reminder for {today} (local runtime at {invoke_url}): 2 reminders queued, 1 contact skipped."
    )
    sqs = boto3.client("sqs", region_name=REGION)
    jobs = sqs.receive_message(QueueUrl=stack.queue_urls["OutboundQueue"], MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(job["Body"])["wa_id"] for job in jobs) == [KERRY, "16505559876"]

    code, out, _ = wactl(capsys, "reminders", "run", *local(invoke_url), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["event"] == {"source": "schedule", "job": "daily_reminder"}
    assert (document["summary"]["date"], document["summary"]["already_done"]) == (today, True)
