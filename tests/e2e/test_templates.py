"""The template catalog through the local runtime over HTTP: ``wactl templates sync`` reads the
simulator's ``message_templates``, every sample request of events/sender/ is accepted, sends Meta
would refuse are refused before sending, and a status webhook pausing a template refuses the next
sends once the sender's cached catalog is read again (within a minute)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.local_runtime import RunningRuntime, eventually, local_runtime
from walocal.events import event_path

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("templates")]
CONTACT = "16505551234"
SAMPLES = sorted(event_path("sender").glob("*.json"))


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log") as running:
        yield running


def wactl(runtime: RunningRuntime, *argv: str) -> subprocess.CompletedProcess[str]:
    return runtime.wactl(*argv)


def send(runtime: RunningRuntime, request: Any) -> list[dict[str, Any]]:
    answer = runtime.invoke(request)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def to_meta(runtime: RunningRuntime) -> list[dict[str, Any]]:
    listing: dict[str, Any] = requests.get(f"{runtime.graph_url}/_simulator/messages", timeout=5).json()
    return list(listing["messages"])


@pytest.fixture(scope="module")
def synced(runtime: RunningRuntime) -> dict[str, Any]:
    done = wactl(runtime, "templates", "sync", "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    summary: dict[str, Any] = json.loads(done.stdout)["summary"]
    return summary


def test_wactl_syncs_the_catalog_from_the_simulator_and_lists_it(
    runtime: RunningRuntime, synced: dict[str, Any]
) -> None:
    assert synced["synced"] is True
    assert synced["templates"] >= 5
    listed = wactl(runtime, "templates", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    names = {(t["name"], t["language"]): t for t in document["templates"]}
    assert names[("order_receipt", "en_US")]["header_format"] == "IMAGE"
    assert names[("daily_reminder", "en_US")]["body_params"] == 1
    assert document["synced_at"] is not None
    text = wactl(runtime, "templates", "list")
    assert "order_receipt" in text.stdout
    assert "APPROVED" in text.stdout


def test_every_sample_request_is_accepted(runtime: RunningRuntime, synced: dict[str, Any]) -> None:
    # As the README shows: the contact writes first, so free-form replies are inside the window.
    answer = requests.post(
        f"{runtime.graph_url}/_simulator/inbound",
        json={"from": CONTACT, "name": "Kerry Fisher", "text": {"body": "Is my order on its way?"}},
        timeout=30,
    )
    assert answer.status_code < 300, answer.text
    eventually(lambda: _inbound(runtime), timeout=30)
    assert SAMPLES
    for sample in SAMPLES:
        results = send(runtime, json.loads(sample.read_text()))
        failed = [result for result in results if result["status"] == "failed"]
        assert not failed, f"{sample.name}: {failed}"
    # The event-source samples: an EventBridge event and an SQS batch, as those services deliver them.
    event = json.loads(event_path("sender/sources/eventbridge_send_request.json").read_text())
    results = send(runtime, event)
    assert [result["status"] for result in results] == ["accepted"], results
    batch = runtime.invoke(json.loads(event_path("sender/sources/sqs_send_request.json").read_text()))
    assert batch.json() == {"batchItemFailures": []}
    done = wactl(runtime, "send", "--file", str(event_path("sender/template.json")))
    assert done.returncode == 0, done.stderr + done.stdout


def _inbound(runtime: RunningRuntime) -> bool | None:
    found = runtime.table().query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"CONTACT#{CONTACT}"}
    )
    return True if found["Items"] else None


def test_sends_meta_would_refuse_are_refused_before_sending(
    runtime: RunningRuntime, synced: dict[str, Any]
) -> None:
    before = len(to_meta(runtime))
    too_many = {
        "to": CONTACT,
        "type": "template",
        "template": {
            "name": "daily_reminder",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ],
        },
    }
    unknown = {
        "to": CONTACT,
        "type": "template",
        "template": {"name": "no_such", "language": {"code": "en_US"}},
    }
    [count] = send(runtime, too_many)
    [missing] = send(runtime, unknown)
    assert (count["error"]["code"], missing["error"]["code"]) == (132000, 132001)
    assert count["error"]["message"].startswith("Refused before sending")
    assert len(to_meta(runtime)) == before


def test_a_status_webhook_pausing_a_template_refuses_the_next_sends(
    runtime: RunningRuntime, synced: dict[str, Any]
) -> None:
    hello = {
        "to": CONTACT,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    [first] = send(runtime, hello)
    assert first["status"] == "accepted"
    payload = json.loads(event_path("webhooks/field_message_template_status_update.json").read_text())
    change = payload["entry"][0]["changes"][0]
    change["value"].update(
        {"event": "PAUSED", "message_template_name": "hello_world", "message_template_language": "en_US"}
    )
    payload["entry"][0]["time"] = int(time.time())
    assert runtime.post_webhook(json.dumps(payload).encode()).status_code == 200
    key = {"pk": "TEMPLATES", "sk": "TEMPLATE#hello_world#en_US"}
    eventually(
        lambda: runtime.table().get_item(Key=key).get("Item", {}).get("status") == "PAUSED", timeout=30
    )
    # The sender reads the catalog again within a minute of its last read: a send every few
    # seconds until then goes out, the next one is refused.
    deadline = time.monotonic() + 90
    while True:
        [result] = send(runtime, hello)
        if result["status"] == "failed" or time.monotonic() > deadline:
            break
        time.sleep(4)
    assert result["error"]["code"] == 132015
    listed = json.loads(wactl(runtime, "templates", "list", "--name", "hello_world", "--json").stdout)
    assert listed["templates"][0]["status"] == "PAUSED"
