"""Several business numbers and contacts known by business-scoped id, through the local runtime
over HTTP with the simulated Meta: a reply goes from the number the contact wrote to, a window is
per number, a number the stack does not serve is refused naming the field, a send to a
business-scoped id reaches Meta as ``recipient``, and a contact Meta names by both ids is one
contact, whatever it did while known by one."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.local_runtime import RunningRuntime, eventually, local_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-runtime-reach")]

FIRST, SECOND = "123456789012345", "109876543210987"
ADA, GRACE, LIN = "16505550301", "16505550302", "16505550303"
GRACE_ID, HIDDEN_ID, LIN_ID = "US.1000000000000302", "BR.2000000000000399", "US.1000000000000303"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    env = {"WHATSAPP_PHONE_NUMBER_IDS": f"{FIRST},{SECOND}"}
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log", env=env) as running:
        yield running


def writes(runtime: RunningRuntime, contact: str, text: str, **who: Any) -> str:
    """The contact writes (``who``: phone_number_id, user_id, hide_number); returns once stored."""
    answer = requests.post(
        f"{runtime.graph_url}/_simulator/inbound",
        json={"from": contact, "name": "Contact", "type": "text", "text": {"body": text}, **who},
        timeout=10,
    ).json()
    assert answer["delivered"] is True, answer
    wamid = str(answer["wamid"])
    table = runtime.table()

    def stored() -> bool:
        items = table.scan(
            FilterExpression="begins_with(sk, :msg)", ExpressionAttributeValues={":msg": "MSG#"}
        )
        return any(item["sk"].endswith(wamid) for item in items["Items"])

    eventually(stored, timeout=30)
    return wamid


def send(runtime: RunningRuntime, request: dict[str, Any]) -> dict[str, Any]:
    answer = runtime.invoke(request)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def received(runtime: RunningRuntime, contact: str) -> list[dict[str, Any]]:
    listing = requests.get(f"{runtime.graph_url}/_simulator/messages", params={"to": contact}, timeout=5)
    return list(listing.json()["messages"])


def wactl(runtime: RunningRuntime, *argv: str) -> subprocess.CompletedProcess[str]:
    return runtime.wactl(*argv, timeout=60)


def text(body: str, **fields: Any) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}, **fields}


def test_a_reply_goes_from_the_number_the_contact_wrote_to(runtime: RunningRuntime) -> None:
    writes(runtime, ADA, "Hello second line", phone_number_id=SECOND)
    [first] = send(runtime, text("Hi from the second line", to=ADA))["results"]
    assert first["status"] == "accepted", first
    # Meta's timestamps are whole seconds, and two messages of one second have no order to tell
    # which came last: the next one is written in a later second.
    time.sleep(1.05 - time.time() % 1)
    writes(runtime, ADA, "And the first line", phone_number_id=FIRST)
    [second] = send(runtime, text("Hi from the first line", to=ADA))["results"]
    assert second["status"] == "accepted", second

    sent = {m["wamid"]: m for m in received(runtime, ADA)}
    assert sent[first["message_id"]]["phone_number_id"] == SECOND
    assert sent[second["message_id"]]["phone_number_id"] == FIRST

    # The conversation shows which number each message went through.
    shown = wactl(runtime, "conversation", ADA, "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    document = json.loads(shown.stdout)
    numbers = {m["wamid"]: m.get("phone_number_id") for m in document["messages"]}
    assert numbers[first["message_id"]] == SECOND
    assert numbers[second["message_id"]] == FIRST
    assert document["summary"]["last_inbound_number"] == FIRST
    assert document["summary"]["windows"] == {FIRST: "open", SECOND: "open"}


def test_a_window_is_per_number_and_a_number_not_ours_is_refused(runtime: RunningRuntime) -> None:
    writes(runtime, GRACE, "Only the second line", phone_number_id=SECOND)
    [closed] = send(runtime, text("From the first line", to=GRACE, phone_number_id=FIRST))["results"]
    assert closed["status"] == "failed"
    assert closed["error"]["code"] == 131047, closed
    assert "business number 123456789012345" in closed["error"]["message"]

    refused = send(runtime, text("From elsewhere", to=GRACE, phone_number_id="555555555555"))
    assert refused["error"]["type"] == "InvalidRequest"
    assert refused["error"]["problems"] == [
        {
            "field": "phone_number_id",
            "rule": f"must be one of this stack's business numbers: {FIRST}, {SECOND}",
        }
    ]
    # Neither reached Meta.
    assert received(runtime, GRACE) == []


def test_a_send_to_a_business_scoped_id_reaches_meta_as_recipient(runtime: RunningRuntime) -> None:
    # A contact who hides the number: known by the business-scoped id alone.
    writes(runtime, "16505550399", "Hi, no number shown", user_id=HIDDEN_ID, hide_number=True)
    [result] = send(runtime, text("Hello without a number", recipient=HIDDEN_ID))["results"]
    assert result["status"] == "accepted", result
    assert result["to"] == HIDDEN_ID

    [sent] = received(runtime, HIDDEN_ID)
    assert sent["body"]["recipient"] == HIDDEN_ID
    assert "to" not in sent["body"]
    table = runtime.table()
    record = table.get_item(Key={"pk": f"MSG#{result['message_id']}", "sk": "MESSAGE"})["Item"]
    assert record["wa_id"] == HIDDEN_ID

    # Its statuses come back by the business-scoped id and join the message.
    eventually(
        lambda: (
            table.get_item(Key={"pk": f"MSG#{result['message_id']}", "sk": "MESSAGE"})["Item"].get("status")
            == "read"
        ),
        timeout=30,
    )
    shown = wactl(runtime, "conversation", HIDDEN_ID, "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert [m["direction"] for m in json.loads(shown.stdout)["messages"]] == ["inbound", "outbound"]


def test_a_contact_named_by_both_ids_is_one_contact(runtime: RunningRuntime) -> None:
    # Meta names the contact by number and business-scoped id: a send to either is the same contact.
    # Meta's timestamps are whole seconds: stamped a second on, this message is the contact's
    # latest even when an earlier test's message to the other line came in the same second.
    later = str(int(time.time()) + 1)
    writes(runtime, GRACE, "Both ids now", user_id=GRACE_ID, phone_number_id=FIRST, timestamp=later)
    [by_id] = send(runtime, text("By your id", recipient=GRACE_ID))["results"]
    assert by_id["status"] == "accepted", by_id
    [sent] = [m for m in received(runtime, GRACE_ID) if m["wamid"] == by_id["message_id"]]
    assert sent["body"]["recipient"] == GRACE_ID
    assert sent["phone_number_id"] == FIRST  # where the contact last wrote
    record = runtime.table().get_item(Key={"pk": f"MSG#{by_id['message_id']}", "sk": "MESSAGE"})["Item"]
    assert record["wa_id"] == GRACE  # in the number's conversation
    shown = json.loads(wactl(runtime, "conversation", GRACE_ID, "--json").stdout)
    assert shown["wa_id"] == GRACE
    assert by_id["message_id"] in [m["wamid"] for m in shown["messages"]]


def test_what_a_contact_did_by_its_id_alone_holds_once_its_number_is_known(runtime: RunningRuntime) -> None:
    # Known by the id alone, the contact opts out ...
    writes(runtime, LIN, "STOP", user_id=LIN_ID, hide_number=True)
    # ... then writes with its number shown: the id now leads to the number, and the opt-out with it.
    writes(runtime, LIN, "Here is my number", user_id=LIN_ID)
    template = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    for address in ({"to": LIN}, {"recipient": LIN_ID}):
        [result] = send(runtime, {**template, **address})["results"]
        assert result["status"] == "failed", result
        assert result["error"]["title"] == "Contact opted out"
    assert received(runtime, LIN) == []
