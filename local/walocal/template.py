"""Reads template.yaml, the single source of truth for both the deployed and the local stack.

Only what the local runtime needs is interpreted: parameters, conditions, the resources it
emulates (queues, table, bucket, secret), and each function's code, handler, environment and
event sources. Intrinsic functions are resolved against the physical ids the emulator assigned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from walocal.filters import FilterError, parse_filters

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

_SHORT_FORMS = ("Ref", "Condition")
_LONG_FORMS = ("GetAtt", "Sub", "If", "Equals", "Join", "Select", "Split", "Not", "And", "Or", "FindInMap")


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation's short tags (``!Ref X``) into their long forms."""


def _register(tag: str) -> None:
    key = tag if tag in _SHORT_FORMS else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    _TemplateLoader.add_constructor(f"!{tag}", construct)


for _tag in _SHORT_FORMS + _LONG_FORMS:
    _register(_tag)


class TemplateError(Exception):
    """The template uses something the local runtime cannot interpret."""


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    function: str


@dataclass(frozen=True)
class QueueSource:
    queue: str  # logical id of the AWS::SQS::Queue
    function: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream feeding a function (an event of ``Type: DynamoDB``)."""

    table: str  # logical id of the AWS::DynamoDB::Table
    function: str
    batch_size: int
    batching_window_seconds: int
    starting_position: str
    bisect_on_error: bool
    maximum_retry_attempts: int  # -1: until the records expire
    report_batch_item_failures: bool
    filters: list[dict[str, Any]]
    on_failure: str | None  # logical id of the SQS queue the failed batches' records go to


@dataclass(frozen=True)
class RuleSource:
    """An EventBridge rule of the template that invokes a function (an event of ``Type: EventBridgeRule``)."""

    name: str  # the event's name under the function
    function: str
    bus: Any  # as written: a bus name, or ``!Ref <EventBus>``; None for the default bus
    pattern: Any  # as written: intrinsics are resolved by the runtime
    state: Any


@dataclass(frozen=True)
class Schedule:
    name: str
    function: str
    expression: Any
    timezone: Any
    state: Any
    input: Any


DEFAULT_CONCURRENCY = 4  # instances of a function without a limit in the template (local only)


@dataclass(frozen=True)
class EventInvokeConfig:
    """What Lambda does with a failed asynchronous invocation (the function's EventInvokeConfig)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_success: Any = None  # the destination's ARN, unresolved (it may be an intrinsic)
    on_failure: Any = None


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, Any] = field(default_factory=dict)
    runtime: str = "python3.13"
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions
    # The lowest ScalingConfig.MaximumConcurrency of the function's SQS event sources, if any.
    sqs_maximum_concurrency: int | None = None
    log_format: str | None = None  # LoggingConfig.LogFormat
    log_level: str | None = None  # LoggingConfig.ApplicationLogLevel
    event_invoke: EventInvokeConfig = field(default_factory=EventInvokeConfig)
    layers: list[Any] = field(default_factory=list)  # as written: ``{"Ref": LayerId}`` or an ARN

    @property
    def concurrency(self) -> int:
        """The most instances that run at once: reserved concurrency, else the SQS source's limit."""
        for limit in (self.reserved_concurrency, self.sqs_maximum_concurrency):
            if limit is not None:
                return max(1, limit)
        return DEFAULT_CONCURRENCY


@dataclass
class Template:
    body: dict[str, Any]

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        with path.open(encoding="utf-8") as handle:
            return cls(yaml.load(handle, Loader=_TemplateLoader))  # noqa: S506 (SafeLoader subclass)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.body.get("Resources", {}))

    def parameter_defaults(self) -> dict[str, str]:
        return {name: str(spec.get("Default", "")) for name, spec in self.body.get("Parameters", {}).items()}

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource.get("Properties", {})
            for name, resource in self.resources.items()
            if resource.get("Type") == resource_type
        }

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.body.get("Globals", {}).get("Function", {})
        specs = {}
        for name, props in self.of_type("AWS::Serverless::Function").items():
            env = dict(globals_.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            logging_config = {**globals_.get("LoggingConfig", {}), **props.get("LoggingConfig", {})}
            reserved = props.get("ReservedConcurrentExecutions", globals_.get("ReservedConcurrentExecutions"))
            sqs_limits = [
                int(p["ScalingConfig"]["MaximumConcurrency"])
                for function, _, p in self._events("SQS")
                if function == name and "MaximumConcurrency" in p.get("ScalingConfig", {})
            ]
            specs[name] = FunctionSpec(
                logical_id=name,
                code_dir=PROJECT_ROOT / str(props.get("CodeUri", globals_.get("CodeUri", "."))),
                handler=str(props.get("Handler", globals_.get("Handler", ""))),
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                memory_size=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                environment=env,
                runtime=str(props.get("Runtime", globals_.get("Runtime", "python3.13"))),
                reserved_concurrency=None if reserved is None else int(reserved),
                sqs_maximum_concurrency=min(sqs_limits) if sqs_limits else None,
                log_format=logging_config.get("LogFormat"),
                log_level=logging_config.get("ApplicationLogLevel"),
                event_invoke=_event_invoke_config(
                    {**globals_.get("EventInvokeConfig", {}), **props.get("EventInvokeConfig", {})}
                ),
                layers=list(props.get("Layers", globals_.get("Layers", []))),
            )
        return specs

    def _events(self, event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (function, event_name, event.get("Properties", {}))
            for function, props in self.of_type("AWS::Serverless::Function").items()
            for event_name, event in props.get("Events", {}).items()
            if event.get("Type") == event_type
        ]

    def http_routes(self) -> list[HttpRoute]:
        return [
            HttpRoute(method=str(p["Method"]).upper(), path=str(p["Path"]), function=function)
            for function, _, p in self._events("HttpApi")
        ]

    def queue_sources(self) -> list[QueueSource]:
        sources = []
        for function, event_name, p in self._events("SQS"):
            queue = p.get("Queue")
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
                raise TemplateError(f"{function}.{event_name}: Queue must be !GetAtt <Queue>.Arn")
            sources.append(
                QueueSource(
                    queue=queue["Fn::GetAtt"][0],
                    function=function,
                    batch_size=int(p.get("BatchSize", 10)),
                    batching_window_seconds=int(p.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in p.get("FunctionResponseTypes", []),
                )
            )
        return sources

    def stream_sources(self) -> list[StreamSource]:
        sources = []
        for function, event_name, p in self._events("DynamoDB"):
            stream = p.get("Stream")
            if not (isinstance(stream, dict) and "Fn::GetAtt" in stream):
                raise TemplateError(f"{function}.{event_name}: Stream must be !GetAtt <Table>.StreamArn")
            destination = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if destination is not None and not (
                isinstance(destination, dict) and "Fn::GetAtt" in destination
            ):
                raise TemplateError(f"{function}.{event_name}: OnFailure must be !GetAtt <Queue>.Arn")
            try:
                filters = parse_filters(p.get("FilterCriteria", {}).get("Filters", []))
            except FilterError as exc:
                raise TemplateError(f"{function}.{event_name}: {exc}") from exc
            sources.append(
                StreamSource(
                    table=stream["Fn::GetAtt"][0],
                    function=function,
                    batch_size=int(p.get("BatchSize", 100)),
                    batching_window_seconds=int(p.get("MaximumBatchingWindowInSeconds", 0)),
                    starting_position=str(p.get("StartingPosition", "TRIM_HORIZON")),
                    bisect_on_error=bool(p.get("BisectBatchOnFunctionError", False)),
                    maximum_retry_attempts=int(p.get("MaximumRetryAttempts", -1)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in p.get("FunctionResponseTypes", []),
                    filters=filters,
                    on_failure=destination["Fn::GetAtt"][0] if destination is not None else None,
                )
            )
        return sources

    def rule_sources(self) -> list[RuleSource]:
        return [
            RuleSource(
                name=event_name,
                function=function,
                bus=p.get("EventBusName"),
                pattern=p.get("Pattern"),
                state=p.get("State", "ENABLED"),
            )
            for function, event_name, p in self._events("EventBridgeRule")
        ]

    def schedules(self) -> list[Schedule]:
        return [
            Schedule(
                name=event_name,
                function=function,
                expression=p.get("ScheduleExpression"),
                timezone=p.get("ScheduleExpressionTimezone", "UTC"),
                state=p.get("State", "ENABLED"),
                input=p.get("Input"),
            )
            for function, event_name, p in self._events("ScheduleV2")
        ]


def _event_invoke_config(props: dict[str, Any]) -> EventInvokeConfig:
    destinations = props.get("DestinationConfig", {})
    return EventInvokeConfig(
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
        maximum_event_age_seconds=int(props.get("MaximumEventAgeInSeconds", 21600)),
        on_success=destinations.get("OnSuccess", {}).get("Destination"),
        on_failure=destinations.get("OnFailure", {}).get("Destination"),
    )


@dataclass
class Resolver:
    """Evaluates intrinsic functions against parameters and the emulated resources' ids."""

    parameters: Mapping[str, str]
    conditions_source: Mapping[str, Any]
    refs: Mapping[str, str]
    attributes: Mapping[tuple[str, str], str]
    pseudo: Mapping[str, str]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            method = _INTRINSICS.get(key)
            if method is not None:
                return getattr(self, method)(arg)
        return {key: self.resolve(item) for key, item in value.items()}

    def condition(self, name: str) -> bool:
        if name not in self.conditions_source:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(self.conditions_source[name]))

    def _ref(self, name: str) -> str:
        for source in (self.parameters, self.pseudo, self.refs):
            if name in source:
                return source[name]
        raise TemplateError(f"Ref to {name}, which the local runtime does not emulate")

    def _get_att(self, arg: list[str]) -> str:
        resource, attribute = arg[0], arg[1]
        try:
            return self.attributes[(resource, attribute)]
        except KeyError:
            raise TemplateError(f"GetAtt {resource}.{attribute} is not emulated locally") from None

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self._get_att(name.split(".", 1))
            return self._ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _if(self, arg: list[Any]) -> Any:
        return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])

    def _equals(self, arg: list[Any]) -> bool:
        left, right = self.resolve(arg[0]), self.resolve(arg[1])
        return bool(str(left) == str(right))

    def _join(self, arg: list[Any]) -> str:
        return str(arg[0]).join(str(self.resolve(part)) for part in self.resolve(arg[1]))

    def _not(self, arg: list[Any]) -> bool:
        return not self.resolve(arg[0])


_INTRINSICS = {
    "Ref": "_ref",
    "Condition": "condition",
    "Fn::GetAtt": "_get_att",
    "Fn::Sub": "_sub",
    "Fn::If": "_if",
    "Fn::Equals": "_equals",
    "Fn::Join": "_join",
    "Fn::Not": "_not",
}
