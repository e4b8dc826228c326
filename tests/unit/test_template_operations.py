"""The template's alarms and dashboard: every dead-letter queue watched, every alarm notifying the
topic, and every project metric they name one the functions write."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from support.paths import REPO
from walocal.template import Template

NAMESPACE = "WhatsAppCloud"
# metrics.count("Name", ...) / metrics.timing("Name", ...) in the shared code and the handlers.
EMITTED = re.compile(r'metrics\.(?:count|timing)\(\s*"([A-Za-z]+)"')


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def emitted_metrics() -> set[str]:
    names: set[str] = set()
    for root in (REPO / "layers" / "shared" / "wacloud", REPO / "functions"):
        for path in root.rglob("*.py"):
            names |= set(EMITTED.findall(path.read_text(encoding="utf-8")))
    return names


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    return template.of_type("AWS::CloudWatch::Alarm")


def alarm_metrics(props: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric an alarm reads: its own, or those of its metric math."""
    if "MetricName" in props:
        return [props]
    return [query["MetricStat"]["Metric"] for query in props["Metrics"] if "MetricStat" in query]


def dashboard_body(template: Template) -> dict[str, Any]:
    [dashboard] = template.of_type("AWS::CloudWatch::Dashboard").values()
    text = dashboard["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{[^}]+\}", "X", text))  # type: ignore[no-any-return]


def test_the_functions_write_the_metrics_alarms_and_the_dashboard_read(template: Template) -> None:
    emitted = emitted_metrics()
    assert {"WebhooksReceived", "MessagesSent", "EventsPublished", "StatusesStored"} <= emitted
    read = [
        metric["MetricName"]
        for props in alarms(template).values()
        for metric in alarm_metrics(props)
        if metric["Namespace"] == NAMESPACE
    ]
    for widget in dashboard_body(template)["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if row[0] == NAMESPACE:
                read.append(row[1])
            elif isinstance(row[0], dict):
                read += re.findall(r'MetricName="(\w+)"', row[0]["expression"])
    assert read
    assert sorted(set(read) - emitted) == []


def test_every_project_metric_an_alarm_reads_is_the_stacks_own(template: Template) -> None:
    for name, props in alarms(template).items():
        for metric in alarm_metrics(props):
            if metric["Namespace"] == NAMESPACE:
                dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
                assert dimensions["service"] == {"Ref": "AWS::StackName"}, name


def test_every_dead_letter_queue_has_an_alarm(template: Template) -> None:
    watched = {
        metric["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for props in alarms(template).values()
        for metric in alarm_metrics(props)
        if metric.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    queues = {name for name in template.of_type("AWS::SQS::Queue") if "DeadLetter" in name}
    assert len(queues) == 4
    assert queues <= watched


def test_every_alarm_notifies_the_topic_when_it_fires_and_clears(template: Template) -> None:
    assert len(alarms(template)) >= 15
    for name, props in alarms(template).items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["TreatMissingData"] == "notBreaching", name


def test_the_dashboard_lists_every_alarm(template: Template) -> None:
    [widget] = [w for w in dashboard_body(template)["widgets"] if w["type"] == "alarm"]
    [dashboard] = template.of_type("AWS::CloudWatch::Dashboard").values()
    listed = set(re.findall(r"\$\{(\w+)\.Arn\}", dashboard["DashboardBody"]["Fn::Sub"]))
    assert len(widget["properties"]["alarms"]) == len(listed)
    assert listed == set(alarms(template))


def test_the_alarm_email_is_optional(template: Template) -> None:
    subscription = template.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert template.parameter_defaults()["AlarmEmail"] == ""


def test_every_function_logs_to_a_declared_group_with_the_retention_parameter(template: Template) -> None:
    groups = template.of_type("AWS::Logs::LogGroup")
    for name, function in template.of_type("AWS::Serverless::Function").items():
        group = function["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    globals_logging = template.body["Globals"]["Function"]["LoggingConfig"]
    assert globals_logging["LogFormat"] == "JSON"
