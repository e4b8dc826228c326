"""``wactl conversation`` and ``wactl message``: what the pipeline stored, read back for people.

The table is filled the way production fills it: Meta's POSTs through the webhook and processor
functions of template.yaml, outbound messages through the sender function. The commands find the
table through a CloudFormation stack's outputs, as they do for a deployed stack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from support.aws import REGION
from support.fake_graph import FakeGraphServer
from support.pipeline import KERRY, Pipeline, deploy_outputs, inbound, status, wactl
from support.processor import fixture_body
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

ALEX = "16505559876"
HOUR = 3600


def sender_record(stack: LocalStack, wamid: str) -> dict[str, Any]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    item: dict[str, Any] = table.get_item(Key={"pk": f"MSG#{wamid}", "sk": "MESSAGE"})["Item"]
    return item


@pytest.fixture
def pipeline(stack: LocalStack, load_function: Callable[[str], LocalFunction]) -> Pipeline:
    return Pipeline(stack, load_function)


# ------------------------------------------------------------------------- conversation
def test_a_conversation_in_both_directions_in_time_order_with_the_profile(
    stack: LocalStack,
    pipeline: Pipeline,
    sender: LocalFunction,
    graph: FakeGraphServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy_outputs(stack)
    now = int(time.time())
    pipeline.deliver(inbound(KERRY, "Hi! Is my order #4521 on its way?", now - 2 * HOUR))
    [result] = sender.invoke({"to": KERRY, "type": "text", "text": {"body": "Yes, it ships today."}})[
        "results"
    ]
    reply = result["message_id"]
    # Meta's statuses for the reply, out of order as it may send them.
    pipeline.deliver(
        status(reply, "read", now - 60),
        status(reply, "sent", now - 90, category="service"),
        status(reply, "delivered", now - 80),
    )
    # Kerry answers in the second after the reply was recorded (Meta's times are whole seconds).
    thanks_at = int(sender_record(stack, reply)["timestamp"]) + 1
    pipeline.deliver(inbound(KERRY, "Great, thanks!", thanks_at))
    pipeline.deliver(inbound(ALEX, "Someone else's message", now - 10, name="Alex"))

    code, out, _ = wactl(capsys, "conversation", KERRY)

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Contact {KERRY} (stack whatsapp-cloud (us-east-1))"
    assert lines[1].split() == ["name", "Kerry", "Fisher"]
    assert lines[2].startswith(
        f"  last inbound  {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(thanks_at))} UTC"
    )
    assert lines[3].startswith("  window        open, closes ")
    assert lines[4] == "  consent       no consent keyword (not opted in, not opted out)"
    rows = [line.split(maxsplit=6) for line in lines[lines.index("Latest 3 messages, oldest first:") + 2 :]]
    assert [(row[2], row[3], row[4], row[6]) for row in rows] == [
        ("in", "text", "-", "Hi! Is my order #4521 on its way?"),
        ("out", "text", "read", "Yes, it ships today."),
        ("in", "text", "-", "Great, thanks!"),
    ]
    assert rows[1][5] == reply

    code, out, _ = wactl(capsys, "conversation", KERRY, "--limit", "2", "--json")
    document = json.loads(out)
    assert [message["text"] for message in document["messages"]] == ["Yes, it ships today.", "Great, thanks!"]
    assert document["messages"][0]["status"] == "read"
    assert document["summary"] | {"window_closes_at": None} == {
        "name": "Kerry Fisher",
        "last_inbound_at": thanks_at,
        "window": "open",
        "window_closes_at": None,
        "consent": "unknown",
        "consent_reason": None,
        "consent_at": None,
        "marketing_stopped_at": None,
        "marketing": "not_stopped",
        "marketing_reason": None,
        "changed_to": None,
        "previous_wa_ids": [],
        "last_inbound_number": "123456789012345",
        "user_id": None,
        "username": None,
        "windows": {"123456789012345": "open"},
    }
    assert document["summary"]["window_closes_at"] == thanks_at + 24 * HOUR


def test_a_closed_window_and_an_opt_out_are_shown_as_the_sender_applies_them(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_outputs(stack)
    stopped_at = int(time.time()) - 30 * HOUR
    pipeline.deliver(inbound(KERRY, "STOP", stopped_at))

    code, out, _ = wactl(capsys, "conversation", KERRY)

    assert code == 0
    closes = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stopped_at + 24 * HOUR))
    assert f"  window        closed since {closes} UTC (templates only)" in out
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stopped_at))
    assert f"  consent       opted out (no templates until START): keyword:STOP at {stamp} UTC" in out
    code, out, _ = wactl(capsys, "conversation", KERRY, "--json")
    assert (json.loads(out)["summary"]["window"], json.loads(out)["summary"]["consent"]) == (
        "closed",
        "opted_out",
    )


def test_the_marketing_state_is_shown_as_the_sender_applies_it(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_outputs(stack)
    now = int(time.time())
    pipeline.deliver(inbound(KERRY, "Hi", now - HOUR))
    assert "  marketing     not stopped" in wactl(capsys, "conversation", KERRY)[1]

    def preference(value: str, at: int) -> dict[str, Any]:
        payload = json.loads(fixture_body("field_user_preferences_stop.json"))
        payload["entry"][0]["changes"][0]["value"]["user_preferences"][0].update(value=value, timestamp=at)
        return dict(payload)

    pipeline.deliver(preference("stop", now - 60))
    code, out, _ = wactl(capsys, "conversation", KERRY)
    assert code == 0
    stopped = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 60))
    assert f"  marketing     stopped (the contact stopped them) at {stopped} UTC" in out

    pipeline.deliver(preference("resume", now - 30))
    code, out, _ = wactl(capsys, "conversation", KERRY, "--json")
    summary = json.loads(out)["summary"]
    assert (summary["marketing"], summary["marketing_reason"], summary["marketing_stopped_at"]) == (
        "resumed",
        "preference:resume",
        now - 30,
    )
    resumed = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 30))
    assert (
        f"  marketing     resumed (the contact resumed them) at {resumed} UTC"
        in wactl(capsys, "conversation", KERRY)[1]
    )


def test_a_contact_only_sent_to_has_no_profile_and_an_unknown_one_is_an_error(
    stack: LocalStack, sender: LocalFunction, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_outputs(stack)
    template = {
        "to": ALEX,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    assert sender.invoke(template)["results"][0]["status"] == "accepted"

    code, out, _ = wactl(capsys, "conversation", ALEX)
    assert code == 0
    assert "  no profile: the contact never wrote" in out
    assert out.splitlines()[-1].split()[2:5] == ["out", "template", "accepted"]

    code, out, err = wactl(capsys, "conversation", "16505550199")
    assert (code, out) == (1, "")
    assert "nothing stored for contact 16505550199" in err


# ------------------------------------------------------------------------- message
def test_a_message_with_its_status_history_errors_and_pricing(
    stack: LocalStack, pipeline: Pipeline, sender: LocalFunction, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_outputs(stack)
    now = int(time.time())
    pipeline.deliver(inbound(KERRY, "Send me the receipt", now - HOUR))
    request = {
        "to": KERRY,
        "type": "image",
        "image": {"link": "https://example.com/r.jpg", "caption": "Receipt"},
    }
    wamid = sender.invoke(request)["results"][0]["message_id"]
    error = {"code": 131053, "title": "Media upload error", "message": "Unable to download the media"}
    pipeline.deliver(
        status(wamid, "sent", now - 50, category="utility"),
        status(wamid, "failed", now - 40, errors=[error]),
        status(wamid, "delivered", now - 45, category="utility"),  # late: failed stays the status
    )

    code, out, _ = wactl(capsys, "message", wamid)

    assert code == 0
    lines = out.splitlines()
    assert lines[1:4] == [f"  direction     outbound to {KERRY}", "  type          image", lines[3]]
    assert "  text          Receipt" in lines
    assert (
        f"  status        failed at {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(now - 40))} UTC" in lines
    )
    assert "  errors        131053 Media upload error" in lines
    history = [line.split(maxsplit=4) for line in lines[lines.index("Status history, oldest first:") + 2 :]]
    assert [row[2:] for row in history] == [
        ["sent", "utility", "-"],
        ["delivered", "utility", "-"],
        ["failed", "-", "131053 Media upload error"],
    ]

    code, out, _ = wactl(capsys, "message", wamid, "--json")
    document = json.loads(out)
    assert document["message"]["status"] == "failed"
    assert [event["status"] for event in document["history"]] == ["sent", "delivered", "failed"]
    assert document["history"][2]["error_codes"] == [131053]


def test_an_inbound_message_and_an_unknown_wamid(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_outputs(stack)
    now = int(time.time())
    pipeline.deliver(inbound(KERRY, "hello", now))

    # A message a contact sent is kept with the contact's messages: the wamid alone does not find it.
    code, out, err = wactl(capsys, "message", f"wamid.IN-{KERRY}-{now}")
    assert (code, out) == (1, "")
    assert "add --contact <wa_id>" in err
    code, out, _ = wactl(capsys, "message", f"wamid.IN-{KERRY}-{now}", "--contact", f"+{KERRY}")
    assert code == 0
    assert f"  direction     inbound from {KERRY}" in out
    assert "  text          hello" in out
    assert out.splitlines()[-1] == "Inbound: no status history."
    code, out, err = wactl(capsys, "message", "wamid.NOPE", "--contact", KERRY)
    assert (code, out) == (1, "")
    assert err.startswith(f"wactl: error: no message wamid.NOPE from or to {KERRY} in whatsapp-cloud-")

    code, out, err = wactl(capsys, "message", "wamid.NOPE")
    assert (code, out) == (1, "")
    assert err.startswith("wactl: error: no message wamid.NOPE in whatsapp-cloud-MessagesTable")


def test_the_table_can_be_named_without_cloudformation(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.deliver(inbound(KERRY, "hello", int(time.time())))
    code, _, err = wactl(capsys, "conversation", KERRY)  # no stack deployed
    assert code == 1
    assert "cannot read stack 'whatsapp-cloud'" in err
    code, out, _ = wactl(capsys, "conversation", KERRY, "--table-name", stack.table_names["MessagesTable"])
    assert code == 0
    assert out.splitlines()[-1].endswith("hello")
