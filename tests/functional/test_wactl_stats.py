"""``wactl stats`` and ``wactl cost``: a day's traffic and Meta's pricing, from the table or the metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import boto3
import pytest

from support.aws import REGION
from support.pipeline import KERRY, Pipeline, deploy_outputs, inbound, status, wactl
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

DAY = 86_400
STRANGER = "16505550199"


def day_of(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


@pytest.fixture
def traffic(stack: LocalStack, load_function: Callable[[str], LocalFunction], sender: LocalFunction) -> int:
    """Today: Kerry wrote twice, got a text (sent, delivered, read) and a template (sent, then
    failed with 131026); a stranger was refused (131047). Yesterday: one message from Kerry."""
    deploy_outputs(stack)
    pipeline = Pipeline(stack, load_function)
    now = int(time.time())
    pipeline.deliver(
        inbound(KERRY, "old news", now - DAY), inbound(KERRY, "hi", now - 60), inbound(KERRY, "?", now - 50)
    )
    text = sender.invoke({"to": KERRY, "type": "text", "text": {"body": "hello"}})["results"][0]["message_id"]
    template = sender.invoke(
        {"to": KERRY, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    )["results"][0]["message_id"]
    pipeline.deliver(
        status(text, "sent", now - 40, category="service"),
        status(text, "delivered", now - 39, category="service"),
        status(text, "read", now - 30),
        status(template, "sent", now - 20, category="utility"),
        status(template, "failed", now - 10, errors=[{"code": 131026, "title": "Message undeliverable"}]),
    )
    [refused] = sender.invoke({"to": STRANGER, "type": "text", "text": {"body": "hey"}})["results"]
    assert refused["error"]["code"] == 131047
    return now


def test_stats_count_a_days_traffic_from_the_table(traffic: int, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = wactl(capsys, "stats", "--from", "table", "--json")
    assert code == 0
    [today] = json.loads(out)["days"]
    assert today == {
        "day": day_of(traffic),
        "webhooks": None,
        "received": 2,
        "stored": 7,  # 2 messages and 5 statuses
        "sent": 2,
        "sent_statuses": 2,
        "delivered": 1,
        "read": 1,
        "failed": 1,
        "failed_by_code": {"131026": 1, "131047": 1},
    }


def test_stats_of_several_days_for_people(traffic: int, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = wactl(capsys, "stats", "--from", "table", "--days", "2")
    assert code == 0
    lines = out.splitlines()
    yesterday = next(line for line in lines if line.startswith(day_of(traffic - DAY)))
    assert yesterday.split()[1:5] == ["-", "1", "1", "0"]
    assert "Total: 3 received, 8 stored, 2 sent, 1 delivered, 1 read, 1 failed (131026: 1, 131047: 1)" in out


def test_cost_counts_each_priced_message_once_by_category_and_template(
    traffic: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = wactl(capsys, "cost", "--json", "--rate", "utility=0.004")
    assert code == 0
    document = json.loads(out)
    assert [
        (c["category"], c["template"], c["billable"], c["messages"], c["amount"]) for c in document["charges"]
    ] == [
        ("service", None, True, 1, None),
        ("utility", "hello_world", True, 1, "0.004"),
    ]
    assert document["billable"] == 2
    code, out, _ = wactl(capsys, "cost")
    [utility] = [line for line in out.splitlines() if "hello_world" in line]
    assert utility.split()[1:6] == ["utility", "hello_world", "yes", "PMP", "1"]
    assert "--rate marketing=0.025" in out


def test_stats_from_the_stacks_metrics(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    deploy_outputs(stack)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    now = datetime.now(UTC)

    def put(name: str, value: float, service: str = "whatsapp-cloud", **dimensions: str) -> None:
        cloudwatch.put_metric_data(
            Namespace="WhatsAppCloud",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "service", "Value": service}]
                    + [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    "Timestamp": now,
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )

    put("WebhooksReceived", 12)
    put("MessagesStored", 4, type="text")
    put("MessagesStored", 1, type="image")
    put("StatusesStored", 3, status="delivered")
    put("StatusesStored", 2, status="failed")
    put("MessagesSent", 5, result="accepted")
    put("MessagesSent", 2, result="failed")
    put("SendFailures", 2, code="131047")
    put("StatusErrors", 2, code="131026")
    put("MessagesStored", 100, service="another-stack", type="text")
    code, out, _ = wactl(capsys, "stats", "--json")
    assert code == 0, out
    [today] = json.loads(out)["days"]
    assert today["webhooks"] == 12
    assert (today["received"], today["stored"], today["sent"]) == (5, 10, 5)
    assert (today["delivered"], today["failed"]) == (3, 2)
    assert today["failed_by_code"] == {"131026": 2, "131047": 2}
