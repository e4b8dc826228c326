"""X-Ray tracing is one template parameter, wired to every function and to their permissions."""

from __future__ import annotations

from typing import Any

import pytest

from walocal.policies import translate
from walocal.template import Template

MODES = ("Active", "PassThrough", "Disabled")
SEND_TRACES = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def _functions(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in cfn["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def _trace_statements(role: dict[str, Any]) -> list[Any]:
    """The role's statements that grant sending traces, as written (conditional or not)."""
    found = []
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            granted = statement.get("Fn::If", [None, statement])[1]
            actions = granted.get("Action", []) if isinstance(granted, dict) else []
            if SEND_TRACES & set(actions if isinstance(actions, list) else [actions]):
                found.append(statement)
    return found


def test_the_parameter_offers_the_three_modes_and_defaults_to_pass_through(template: Template) -> None:
    parameter = template.body["Parameters"]["Tracing"]
    assert set(parameter["AllowedValues"]) == set(MODES)
    # Active costs per request traced; the default must not, and callers' sampled traces still go on.
    assert parameter["Default"] == "PassThrough"


def test_every_function_takes_its_mode_from_the_parameter(template: Template) -> None:
    assert template.body["Globals"]["Function"]["Tracing"] == {"Ref": "Tracing"}
    for name, resource in template.resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"].get("Tracing", {"Ref": "Tracing"}) == {"Ref": "Tracing"}, name


@pytest.mark.parametrize("mode", MODES)
def test_sam_translates_the_mode_onto_every_function(template: Template, mode: str) -> None:
    functions = _functions(translate(template, {"Tracing": mode, "PhoneNumberId": "123456789012345"}))
    assert set(functions) == {
        "WebhookFunction",
        "ProcessorFunction",
        "SenderFunction",
        "PublisherFunction",
        "ReplyBotFunction",
        "MediaFunction",
    }
    for name, properties in functions.items():
        # CloudFormation resolves the reference to Active or PassThrough, both Lambda's own modes.
        expected = None if mode == "Disabled" else {"Mode": {"Ref": "Tracing"}}
        assert properties.get("TracingConfig") == expected, name


def test_each_role_may_send_traces_only_while_tracing_is_on(template: Template) -> None:
    assert template.body["Conditions"]["Traced"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "Tracing"}, "Disabled"]}]
    }
    cfn = translate(template, {"PhoneNumberId": "123456789012345"})
    roles = {properties["Role"]["Fn::GetAtt"][0] for properties in _functions(cfn).values()}
    assert roles == {
        "WebhookRole",
        "ProcessorRole",
        "SenderRole",
        "PublisherRole",
        "ReplyBotRole",
        "MediaRole",
    }
    for role in roles:
        [statement] = _trace_statements(cfn["Resources"][role])
        condition, _, otherwise = statement["Fn::If"]
        assert (condition, otherwise) == ("Traced", {"Ref": "AWS::NoValue"}), role
