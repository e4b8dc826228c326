"""``wactl failed``: failed status webhooks and failed sends, day by day, with their error codes."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable

import pytest

from support.pipeline import KERRY, Pipeline, deploy_outputs, inbound, status, wactl
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

DAY = 86_400
STRANGER = "16505550199"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def day_of(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


@pytest.fixture
def pipeline(stack: LocalStack, load_function: Callable[[str], LocalFunction]) -> Pipeline:
    return Pipeline(stack, load_function)


@pytest.fixture
def failures(stack: LocalStack, pipeline: Pipeline, sender: LocalFunction) -> tuple[str, str, int]:
    """Yesterday Meta failed a delivered template; today the sender refused a free-form text."""
    deploy_outputs(stack)
    now = int(time.time())
    template = {
        "to": KERRY,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    wamid = sender.invoke(template)["results"][0]["message_id"]
    error = {"code": 131026, "title": "Message undeliverable"}
    yesterday = now - DAY
    pipeline.deliver(status(wamid, "sent", yesterday - 5), status(wamid, "failed", yesterday, errors=[error]))
    pipeline.deliver(inbound(STRANGER, "hello", now - 3 * DAY))  # wrote, but long ago
    [refused] = sender.invoke({"to": STRANGER, "type": "text", "text": {"body": "still there?"}})["results"]
    assert refused["error"]["code"] == 131047
    return wamid, day_of(now), yesterday


def test_each_day_lists_its_failures_with_their_codes(
    failures: tuple[str, str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    wamid, today, yesterday = failures

    code, out, _ = wactl(capsys, "failed")  # today
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Failed messages {today} (UTC), stack whatsapp-cloud (us-east-1): 1"
    [row] = [line.split(maxsplit=6) for line in lines[2:]]
    assert row[2:5] == ["send", STRANGER, "text"]
    assert row[6] == "131047 Re-engagement message"

    code, out, _ = wactl(capsys, "failed", "--day", day_of(yesterday))
    rows = [line.split(maxsplit=6) for line in out.splitlines()[2:-1]]
    assert [row[2:] for row in rows] == [["status", KERRY, "template", wamid, "131026 Message undeliverable"]]
    assert out.splitlines()[-1] == "A status failure's history: wactl message <wamid>"


def test_several_days_in_time_order_as_json(
    failures: tuple[str, str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    wamid, today, yesterday = failures
    code, out, _ = wactl(capsys, "failed", "--days", "3", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["days"] == [day_of(yesterday - DAY), day_of(yesterday), today]
    assert [(f["kind"], f["to"], [e["code"] for e in f["errors"]]) for f in document["failed"]] == [
        ("status", KERRY, [131026]),
        ("send", STRANGER, [131047]),
    ]
    assert document["failed"][0]["id"] == wamid
    assert document["failed"][1]["retryable"] is False
    assert json.loads(document["failed"][1]["item"]["request"])["text"] == {"body": "still there?"}


def test_a_day_without_failures_and_a_counter_for_people_watching(
    failures: tuple[str, str, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = wactl(capsys, "failed", "--day", "2020-02-29")
    assert (code, out.splitlines()) == (
        0,
        ["Failed messages 2020-02-29 (UTC), stack whatsapp-cloud (us-east-1): 0"],
    )

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, out, _ = wactl(capsys, "failed", "--days", "2")
    assert code == 0
    assert "(1/2): 0 failed so far" in terminal.getvalue()
    assert "(2/2): 1 failed so far" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")  # the counter is gone before the answer


@pytest.mark.parametrize("argv", [["--day", "2025-13-01"], ["--days", "0"], ["--days", "367"]])
def test_bad_days_are_usage_errors(
    stack: LocalStack, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = wactl(capsys, "failed", *argv)
    assert code == 2
    assert "wactl failed: error: argument --day" in err
