"""The whole pipeline through the local runtime, over HTTP only, as a user of `make run` sees it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.config import Config

from support.local_runtime import RunningRuntime, eventually, local_runtime
from wacloud.meta.signature import sign
from walocal.events import event_path
from walocal.runtime import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN

# One runtime serves the module: its tests stay on one worker of a parallel run.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-runtime")]
Runtime = RunningRuntime


def items(runtime: Runtime) -> list[dict[str, Any]]:
    return list(runtime.table().scan()["Items"])


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log") as running:
        yield running


def test_handshake_over_http(runtime: Runtime) -> None:
    ok = requests.get(
        runtime.webhook_url,
        params={"hub.mode": "subscribe", "hub.verify_token": LOCAL_VERIFY_TOKEN, "hub.challenge": "8675309"},
        timeout=5,
    )
    assert (ok.status_code, ok.text) == (200, "8675309")
    assert ok.headers["content-type"].startswith("text/plain")
    refused = requests.get(
        runtime.webhook_url,
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "8675309"},
        timeout=5,
    )
    assert refused.status_code == 403


def test_signed_webhook_ends_in_the_table(runtime: Runtime) -> None:
    body = event_path("webhooks/message_text.json").read_bytes()
    wamid = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert runtime.post_webhook(body).status_code == 200
    item = eventually(lambda: inbound_message(runtime, "16505551234", wamid))
    assert json.loads(item["raw"])["text"]["body"] == "Hi! Is my order #4521 on its way?"
    assert item["name"] == "Kerry Fisher"


def inbound_message(runtime: RunningRuntime, wa_id: str, wamid: str) -> dict[str, Any] | None:
    """A message the contact sent, from their partition (its key holds its time, then its wamid)."""
    found = runtime.table().query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
        ExpressionAttributeValues={":pk": f"CONTACT#{wa_id}", ":msg": "MSG#"},
    )["Items"]
    return next((dict(item) for item in found if str(item["sk"]).endswith(f"#{wamid}")), None)


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, sign(b"other body", LOCAL_APP_SECRET)])
def test_unsigned_or_wrongly_signed_webhooks_are_refused_and_stored_nowhere(
    runtime: Runtime, signature: str | None
) -> None:
    payload = json.loads(event_path("webhooks/message_image.json").read_text())
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.forged-{time.time_ns()}"
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if signature:
        headers["x-hub-signature-256"] = signature
    response = requests.post(runtime.webhook_url, data=body, headers=headers, timeout=5)
    assert response.status_code == 401
    time.sleep(1.5)  # longer than the poller's cycle: had it been queued, it would be stored by now
    assert not [item for item in items(runtime) if "forged" in item["pk"]]
    assert all("forged" not in json.dumps(item, default=str) for item in items(runtime))


def test_sender_through_the_lambda_invoke_api(runtime: Runtime) -> None:
    client = runtime.client("lambda", runtime.invoke_url, config=Config(retries={"max_attempts": 1}))
    request = {
        "to": "16505551234",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    answer = client.invoke(FunctionName="SenderFunction", Payload=json.dumps(request).encode())
    assert "FunctionError" not in answer
    [result] = json.loads(answer["Payload"].read())["results"]
    assert result["status"] == "accepted"
    assert result["message_id"].startswith("wamid.")
    table = runtime.table()
    item = eventually(
        lambda: table.get_item(Key={"pk": f"MSG#{result['message_id']}", "sk": "MESSAGE"}).get("Item")
    )
    assert item["direction"] == "outbound"
    received = requests.get(f"{runtime.graph_url}/_simulator/messages", timeout=5).json()
    assert any(m.get("wamid") == result["message_id"] for m in received["messages"])
    # The simulator's signed status webhooks come back through the webhook, queue and processor.
    key = {"pk": f"MSG#{result['message_id']}", "sk": "MESSAGE"}
    eventually(lambda: table.get_item(Key=key)["Item"].get("status") == "read", timeout=20)


def test_unknown_function_is_a_404_like_lambda(runtime: Runtime) -> None:
    response = requests.post(
        f"{runtime.invoke_url}/2015-03-31/functions/Nope/invocations", data=b"{}", timeout=5
    )
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


# ------------------------------------------------------------------------- the operator's loop
def wactl(runtime: Runtime, *argv: str) -> subprocess.CompletedProcess[str]:
    return runtime.wactl(*argv, "--json", timeout=60)


def test_a_contact_writes_gets_a_reply_that_is_read_and_a_stranger_gets_nothing(runtime: Runtime) -> None:
    contact, stranger = "16505550101", "16505550199"
    table = runtime.table()

    # (a) The contact writes (the simulator signs and posts Meta's webhook); wactl shows it.
    inbound = requests.post(
        f"{runtime.graph_url}/_simulator/inbound",
        json={"from": contact, "name": "Ada Lovelace", "type": "text", "text": {"body": "Open today?"}},
        timeout=10,
    ).json()
    assert inbound["delivered"] is True
    eventually(lambda: inbound_message(runtime, contact, inbound["wamid"]))
    shown = wactl(runtime, "conversation", contact)
    assert shown.returncode == 0, shown.stderr
    conversation = json.loads(shown.stdout)
    assert (conversation["summary"]["name"], conversation["summary"]["window"]) == ("Ada Lovelace", "open")
    assert [(m["direction"], m["text"]) for m in conversation["messages"]] == [("inbound", "Open today?")]

    # (b) A free-form reply inside the window: accepted, delivered by the simulator, read.
    sent = wactl(
        runtime, "send", "--to", contact, "--text", "Yes, until 8 pm.", "--reply-to", inbound["wamid"]
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    [result] = json.loads(sent.stdout)["results"]
    assert result["status"] == "accepted"
    wamid = result["message_id"]
    received = requests.get(
        f"{runtime.graph_url}/_simulator/messages", params={"to": contact}, timeout=5
    ).json()
    assert [m["wamid"] for m in received["messages"]] == [wamid]
    key = {"pk": f"MSG#{wamid}", "sk": "MESSAGE"}
    eventually(lambda: table.get_item(Key=key)["Item"].get("status") == "read", timeout=20)
    history = json.loads(wactl(runtime, "message", wamid).stdout)
    assert history["message"]["status"] == "read"
    assert json.loads(history["message"]["request"])["context"] == {"message_id": inbound["wamid"]}
    assert [event["status"] for event in history["history"]] == ["sent", "delivered", "read"]

    # (c) A free-form message to someone who never wrote: refused with 131047, recorded as failed.
    refused = wactl(runtime, "send", "--to", stranger, "--text", "Hello?")
    assert refused.returncode == 1
    [result] = json.loads(refused.stdout)["results"]
    assert (result["status"], result["error"]["code"]) == ("failed", 131047)
    failed = json.loads(wactl(runtime, "failed").stdout)["failed"]
    assert [(f["kind"], f["to"], [e["code"] for e in f["errors"]]) for f in failed] == [
        ("send", stranger, [131047])
    ]
    received = requests.get(
        f"{runtime.graph_url}/_simulator/messages", params={"to": stranger}, timeout=5
    ).json()
    assert received["messages"] == []


def test_a_bad_update_and_a_body_that_is_no_webhook_lose_nothing_and_say_why(runtime: Runtime) -> None:
    def post(body: bytes) -> None:
        assert runtime.post_webhook(body).status_code == 200

    # A POST whose second message has a latitude in words, and a signed body that is not JSON.
    payload = json.loads(event_path("webhooks/message_location.json").read_text())
    good = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    good["id"] = f"wamid.good-{time.time_ns()}"
    bad = {**good, "id": f"wamid.bad-{time.time_ns()}", "location": {**good["location"], "latitude": "north"}}
    payload["entry"][0]["changes"][0]["value"]["messages"].append(bad)
    mixed, garbage = json.dumps(payload).encode(), f"not json {time.time_ns()}".encode()
    post(mixed)
    post(garbage)

    table = runtime.table()
    eventually(lambda: inbound_message(runtime, good["from"], good["id"]))
    digest = hashlib.sha256(mixed).hexdigest()
    part = eventually(
        lambda: table.get_item(
            Key={"pk": f"RAW#{digest}", "sk": "UNTYPED#entry[0].changes[0].value.messages[1]"}
        ).get("Item")
    )
    assert json.loads(part["raw"])["id"] == bad["id"]
    assert part["error"].startswith("location.latitude: Input should be a valid number")
    rejected = hashlib.sha256(garbage).hexdigest()
    raw = eventually(
        lambda: (
            (table.get_item(Key={"pk": f"RAW#{rejected}", "sk": "RAW"}).get("Item") or {}).get("rejected")
            and table.get_item(Key={"pk": f"RAW#{rejected}", "sk": "RAW"})["Item"]
        )
    )
    assert raw["body"] == garbage.decode()

    listed = wactl(runtime, "dlq", "list", "--wait", "0")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["messages"] == []  # not retried, so never dead-lettered
    assert {"sha256": rejected, "reason": "not JSON: Expecting value at line 1 column 1"}.items() <= next(
        entry for entry in document["rejected"] if entry["sha256"] == rejected
    ).items()
    shown = json.loads(wactl(runtime, "raw", "show", digest).stdout)
    assert [untyped["path"] for untyped in shown["untyped"]] == ["entry[0].changes[0].value.messages[1]"]


def test_a_burst_of_50_to_one_contact_never_draws_131056(runtime: Runtime) -> None:
    contact = "16505550150"
    before = requests.get(f"{runtime.graph_url}/_simulator/arrivals", timeout=5).json()
    counted = len(next(iter(before["arrivals"].values()), []))
    template = {"name": "hello_world", "language": {"code": "en_US"}}
    request = {"messages": [{"to": contact, "type": "template", "template": template} for _ in range(50)]}
    # Meta lets 45 through at once, then one every 6 s: the last of the 50 goes about 31 s later.
    answer = runtime.invoke(request, timeout=90).json()
    assert [result["status"] for result in answer["results"]] == ["accepted"] * 50
    received = requests.get(
        f"{runtime.graph_url}/_simulator/messages", params={"to": contact}, timeout=5
    ).json()
    assert len(received["messages"]) == 50
    # Every request the simulator saw was accepted: none was refused with 131056 and sent again.
    after = requests.get(f"{runtime.graph_url}/_simulator/arrivals", timeout=5).json()
    assert len(next(iter(after["arrivals"].values()))) - counted == 50
