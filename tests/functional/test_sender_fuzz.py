"""The sender against arbitrary direct invokes: a clear error naming the field, and no Graph call."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.aws import REGION
from support.contacts import SeedingStore
from support.fake_graph import FakeGraphServer
from support.fuzzing import json_values, mutated
from walocal.events import event_path
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

EXAMPLES = [
    json.loads(path.read_text(encoding="utf-8")) for path in sorted(event_path("sender").glob("*.json"))
]


@st.composite
def requests_to_send(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)  # not even an object, sometimes
    return draw(mutated(copy.deepcopy(draw(st.sampled_from(EXAMPLES))), add_keys=True))


@pytest.fixture
def window_open(stack: LocalStack) -> None:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    SeedingStore(table).record_inbound("16505551234", int(time.time()) - 60, "wamid.IN-fuzz", "Maria")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests_to_send())
def test_any_direct_invoke_is_answered_and_a_refused_one_calls_nobody(
    sender: LocalFunction, graph: FakeGraphServer, window_open: None, request: Any
) -> None:
    calls_before = len(graph.fake.requests)
    answer = sender.invoke(request)
    assert isinstance(answer, dict)
    if "error" in answer:
        error = answer["error"]
        assert error["type"] == "InvalidRequest"
        assert error["message"]
        assert error["problems"]
        assert all(isinstance(problem["field"], str) and problem["rule"] for problem in error["problems"])
        assert len(graph.fake.requests) == calls_before  # nothing was sent
    else:
        assert isinstance(answer["results"], list)
        assert answer["results"]
