"""Fault rules of the emulated AWS: what they match, how often they fire, what they refuse."""

from __future__ import annotations

import random
from typing import Any

import pytest

from walocal.faults import Faults, FaultSpecError


def test_a_counted_rule_fires_on_matching_calls_only_then_stops() -> None:
    faults = Faults()
    rule = faults.add(
        {
            "service": "dynamodb",
            "operation": "BatchWriteItem",
            "function": "ProcessorFunction",
            "effect": "throttle",
            "count": 2,
        }
    )
    assert faults.take("dynamodb", "PutItem", "ProcessorFunction") is None
    assert faults.take("dynamodb", "BatchWriteItem", "SenderFunction") is None
    assert faults.take("sqs", "BatchWriteItem", "ProcessorFunction") is None
    assert faults.take("dynamodb", "BatchWriteItem", "ProcessorFunction") is rule
    assert faults.take("dynamodb", "BatchWriteItem", "ProcessorFunction") is rule
    assert faults.take("dynamodb", "BatchWriteItem", "ProcessorFunction") is None
    assert faults.snapshot()[0]["hits"] == 2
    assert rule.error() == (400, "ProvisionedThroughputExceededException")


def test_a_rule_lets_the_first_matching_calls_through_when_asked() -> None:
    faults = Faults()
    rule = faults.add(
        {"service": "events", "operation": "PutEvents", "effect": "unavailable", "after": 2, "count": 1}
    )
    assert faults.take("events", "PutEvents", None) is None
    assert faults.take("events", "ListRules", None) is None  # not matching: not counted
    assert faults.take("events", "PutEvents", None) is None
    assert faults.take("events", "PutEvents", None) is rule
    assert faults.take("events", "PutEvents", None) is None


def test_probability_draws_from_the_rule_s_generator() -> None:
    faults = Faults(random.Random(1))
    faults.add({"service": "sqs", "effect": "unavailable", "probability": 0.25})
    fired = sum(faults.take("sqs", "SendMessage", None) is not None for _ in range(2000))
    assert 400 < fired < 600


def test_a_crash_kills_the_calling_function_s_instances() -> None:
    faults = Faults()
    crashed: list[str] = []

    def crash(function: str) -> int:
        crashed.append(function)
        return 1

    faults.crash = crash
    faults.add({"service": "dynamodb", "function": "ProcessorFunction", "effect": "crash", "count": 1})
    rule = faults.take("dynamodb", "UpdateItem", "ProcessorFunction")
    assert rule is not None
    assert rule.error() == (500, "InternalFailure")
    assert crashed == ["ProcessorFunction"]
    faults.clear()
    assert faults.snapshot() == []


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ([], "JSON object"),
        ({"effect": "throttle"}, "service"),
        ({"service": "sqs", "effect": "explode"}, "effect"),
        ({"service": "sqs", "effect": "throttle", "count": 0}, "count"),
        ({"service": "sqs", "effect": "throttle", "probability": 1.5}, "probability"),
        ({"service": "sqs", "effect": "throttle", "after": -1}, "after"),
        ({"service": "sqs", "effect": "crash"}, "function"),
        ({"service": "sqs", "effect": "throttle", "when": "now"}, "unknown fields: when"),
    ],
)
def test_bad_rules_are_refused_with_the_field_named(spec: Any, field: str) -> None:
    with pytest.raises(FaultSpecError, match=field):
        Faults().add(spec)
