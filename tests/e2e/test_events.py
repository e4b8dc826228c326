"""Events out, through the local runtime over HTTP: a subscriber's queue on the stack's bus gets
each stored change once, and statuses only as forward moves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from support.local_runtime import RunningRuntime, eventually, local_runtime
from support.processor import METADATA, WABA_ID
from wacloud.events.replybot import HELP_TEXT
from walocal.events import event_path
from walocal.provision import STACK_NAME
from walocal.template import TEMPLATE_PATH, Template

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("events")]
WACTL = [sys.executable, "-m", "wactl"]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log") as running:
        yield running


@pytest.fixture(scope="module")
def subscriber(runtime: RunningRuntime) -> str:
    """A queue subscribed to every event of the stack's bus, as a business would subscribe one."""
    return subscribe(runtime, "subscriber")


def received(runtime: RunningRuntime, url: str, until: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Every event the subscriber's queue holds, once at least ``until`` arrived (and a moment more)."""
    sqs = runtime.client("sqs")
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in batch:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(events) >= until:
            quiet_since = quiet_since or time.monotonic()
            if not batch and time.monotonic() - quiet_since > 2:
                return events
    return events


def statuses(wamid: str, *steps: tuple[str, int]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": METADATA,
        "statuses": [
            {"id": wamid, "status": status, "timestamp": str(1763700000 + at), "recipient_id": "16505551234"}
            for status, at in steps
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def test_each_message_is_received_once_when_each_webhook_comes_twice(
    runtime: RunningRuntime, subscriber: str
) -> None:
    wamids = []
    for name in ("message_text.json", "message_image.json", "message_reply_context.json"):
        body = event_path(f"webhooks/{name}").read_bytes()
        wamids.append(json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"])
        assert runtime.post_webhook(body).status_code == 200
        assert runtime.post_webhook(body).status_code == 200
    events = received(runtime, subscriber, until=3)
    received_messages = [event for event in events if event["detail-type"] == "WhatsApp Message Received"]
    assert sorted(event["detail"]["wamid"] for event in received_messages) == sorted(wamids)
    text = next(event for event in received_messages if event["detail"]["type"] == "text")
    assert text["source"] == "whatsapp.cloud"
    assert text["detail"]["text"] == "Hi! Is my order #4521 on its way?"
    assert text["detail"]["message"]["text"]["body"] == text["detail"]["text"]
    assert len({event["detail"]["event_id"] for event in events}) == len(events)


def test_shuffled_and_repeated_statuses_publish_only_forward_moves(
    runtime: RunningRuntime, subscriber: str
) -> None:
    first_read = f"wamid.E2E{time.time_ns()}"
    in_order = f"wamid.E2E{time.time_ns()}"
    for wamid, steps in (
        (first_read, (("read", 30), ("sent", 10), ("delivered", 20), ("read", 30))),
        (in_order, (("sent", 10), ("delivered", 20), ("sent", 10), ("read", 30))),
    ):
        for status, at in steps:
            assert runtime.post_webhook(statuses(wamid, (status, at))).status_code == 200
            # Each webhook stored before the next is sent: the arrival order is the test's.
            eventually(partial(_history_has, runtime, wamid, status, at))
    events = [
        event
        for event in received(runtime, subscriber, until=4)
        if event["detail-type"] == "WhatsApp Message Status Changed"
    ]
    moves = {
        wamid: [
            (event["detail"].get("previous_status"), event["detail"]["status"])
            for event in events
            if event["detail"]["wamid"] == wamid
        ]
        for wamid in (first_read, in_order)
    }
    assert moves[first_read] == [(None, "read")]
    assert moves[in_order] == [(None, "sent"), ("sent", "delivered"), ("delivered", "read")]


def _history_has(runtime: RunningRuntime, wamid: str, status: str, at: int) -> bool:
    key = {"pk": f"MSG#{wamid}", "sk": f"STATUS#{1763700000 + at:010d}#{status}"}
    return "Item" in runtime.table().get_item(Key=key)


def test_wactl_tails_the_events_as_they_are_published(runtime: RunningRuntime) -> None:
    tail = subprocess.Popen(
        [
            *WACTL,
            "events",
            "tail",
            "--local",
            "--endpoint-url",
            runtime.aws_url,
            "--count",
            "1",
            "--seconds",
            "60",
            "--json",
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stderr is not None
    assert "listening on whatsapp-cloud-events" in tail.stderr.readline()
    payload = json.loads(event_path("webhooks/message_text.json").read_text())
    wamid = f"wamid.TAIL{time.time_ns()}"
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = wamid
    assert runtime.post_webhook(json.dumps(payload).encode()).status_code == 200
    out, _ = tail.communicate(timeout=90)
    assert tail.returncode == 0
    event = json.loads(out)
    assert (event["detail-type"], event["detail"]["wamid"]) == ("WhatsApp Message Received", wamid)
    # Its rule and queue are gone with it.
    assert not [q for q in runtime.client("sqs").list_queues().get("QueueUrls", []) if "wactl-tail" in q]


def test_a_publisher_that_crashes_between_putevents_calls_loses_no_event(
    runtime: RunningRuntime, subscriber: str
) -> None:
    received(runtime, subscriber, until=0, timeout=3)  # what earlier tests left
    payload = json.loads(event_path("webhooks/message_text.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    [message] = value["messages"]
    wamids = [f"wamid.CRASH{time.time_ns()}-{n:02d}" for n in range(25)]
    value["messages"] = [
        {**message, "id": wamid, "text": {"body": f"message {n}"}} for n, wamid in enumerate(wamids)
    ]
    # The publisher's instance dies at its second PutEvents call: the first one's events are out.
    rule = {
        "service": "events",
        "operation": "PutEvents",
        "function": "PublisherFunction",
        "effect": "crash",
        "after": 1,
        "count": 1,
    }
    faults = f"{runtime.aws_url}/_walocal/faults"
    assert requests.post(faults, json=rule, timeout=5).status_code == 201
    try:
        assert runtime.post_webhook(json.dumps(payload).encode()).status_code == 200
        events = received(runtime, subscriber, until=25, timeout=60)
        assert requests.get(faults, timeout=5).json()[0]["hits"] == 1
    finally:
        requests.delete(faults, timeout=5)
    ids_by_wamid: dict[str, set[str]] = {}
    for event in events:
        ids_by_wamid.setdefault(event["detail"]["wamid"], set()).add(event["detail"]["event_id"])
    assert sorted(ids_by_wamid) == sorted(wamids)  # every event, none lost
    assert all(len(ids) == 1 for ids in ids_by_wamid.values())  # repeated only with the same id


def test_a_send_request_put_on_the_bus_is_sent_by_the_sender(runtime: RunningRuntime) -> None:
    contact = f"1555{time.time_ns() % 10**7:07d}"
    payload = json.loads(event_path("webhooks/message_text.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = contact
    value["messages"][0]["id"] = f"wamid.BUS{time.time_ns()}"
    value["messages"][0]["timestamp"] = str(int(time.time()))
    assert runtime.post_webhook(json.dumps(payload).encode()).status_code == 200
    eventually(
        lambda: runtime.table().query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"CONTACT#{contact}"}
        )["Items"],
        timeout=20,
    )
    request = {"to": contact, "type": "text", "text": {"body": "Sent through the bus"}}
    answer = runtime.client("events").put_events(
        Entries=[
            {
                "EventBusName": f"{STACK_NAME}-events",
                "Source": "whatsapp.send-requests",
                "DetailType": "WhatsApp Send Request",
                "Detail": json.dumps(request),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0

    def delivered() -> list[dict[str, Any]]:
        found = requests.get(f"{runtime.graph_url}/_simulator/messages", params={"to": contact}, timeout=5)
        return list(found.json()["messages"])

    [sent] = eventually(delivered, timeout=30)
    assert sent["wamid"]


def test_the_reply_bot_answers_help_through_the_simulator_once(tmp_path: Path) -> None:
    with local_runtime(tmp_path / "wa-local.log", parameters={"ReplyBot": "Enabled"}) as runtime:
        contact = "16505550101"
        played = subprocess.run(
            [
                sys.executable,
                "-m",
                "walocal.simulator",
                "inbound",
                "--url",
                runtime.graph_url,
                "--from",
                contact,
                "--text",
                "HELP",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert played.returncode == 0, played.stdout + played.stderr
        inbound_wamid = json.loads(played.stdout)["wamid"]

        def answers() -> list[dict[str, Any]] | None:
            found = requests.get(
                f"{runtime.graph_url}/_simulator/messages", params={"to": contact}, timeout=5
            )
            return list(found.json()["messages"]) or None

        [answer] = eventually(answers, timeout=60)
        assert answer["body"]["text"]["body"] == HELP_TEXT
        assert answer["body"]["context"] == {"message_id": inbound_wamid}
        # Its statuses come back from the simulator and are stored like any other's.
        key = {"pk": f"MSG#{answer['wamid']}", "sk": "MESSAGE"}
        eventually(
            lambda: runtime.table().get_item(Key=key).get("Item", {}).get("status") == "read", timeout=30
        )
        # The same message's event delivered to the bot again: it answers, the sender sends nothing new.
        sample = json.loads(event_path("eventbridge/message_received_text.json").read_text())
        sample["detail"] |= {
            "wamid": inbound_wamid,
            "wa_id": contact,
            "text": "HELP",
            "timestamp": int(time.time()),
        }
        again = runtime.invoke(sample, function="ReplyBotFunction")
        assert again.json() == {"answered": True}
        time.sleep(3)
        assert len(answers() or []) == 1


def test_changes_the_publisher_gave_up_on_are_listed_and_replayed_by_wactl(tmp_path: Path) -> None:
    body: Any = Template.load(TEMPLATE_PATH).body
    # Give up at the first failed invocation, so that the test need not wait for ten retries.
    body["Resources"]["PublisherFunction"]["Properties"]["Events"]["TableChanges"]["Properties"][
        "MaximumRetryAttempts"
    ] = 0
    template = tmp_path / "template-publisher-gives-up.yaml"
    template.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    with local_runtime(tmp_path / "wa-local.log", template=template) as runtime:
        queue = subscribe(runtime, "replayed")
        faults = f"{runtime.aws_url}/_walocal/faults"
        rule = {
            "service": "events",
            "operation": "PutEvents",
            "function": "PublisherFunction",
            "effect": "unavailable",
        }
        assert requests.post(faults, json=rule, timeout=5).status_code == 201
        payload = json.loads(event_path("webhooks/message_text.json").read_text())
        wamid = f"wamid.GAVEUP{time.time_ns()}"
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = wamid
        assert runtime.post_webhook(json.dumps(payload).encode()).status_code == 200

        def listed() -> list[dict[str, Any]] | None:
            shown = wactl_json(runtime, "events", "failed")
            return list(shown["failed"]) or None

        [failed] = eventually(listed, timeout=60)
        assert failed["condition"] == "RetryAttemptsExhausted"
        assert received(runtime, queue, until=0, timeout=2) == []
        requests.delete(faults, timeout=5)

        replayed = wactl_json(runtime, "events", "replay")
        assert (replayed["published"], replayed["expired"], replayed["failed"]) == (1, 0, 0)
        events = received(runtime, queue, until=1)
        assert [event["detail"]["wamid"] for event in events] == [wamid]
        assert wactl_json(runtime, "events", "failed")["failed"] == []


def subscribe(runtime: RunningRuntime, name: str) -> str:
    """A queue named ``name`` with a rule of the same name taking every event of the stack's source."""
    sqs, events = runtime.client("sqs"), runtime.client("events")
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = f"{STACK_NAME}-events"  # the template's EventBus: ${AWS::StackName}-events
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["whatsapp.cloud"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def wactl_json(runtime: RunningRuntime, *argv: str) -> Any:
    done = subprocess.run(
        [*WACTL, *argv, "--local", "--endpoint-url", runtime.aws_url, "--json"],
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)
