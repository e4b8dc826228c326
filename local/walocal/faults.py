"""Faults injected into the emulated AWS on purpose: throttling, outages and crashes on demand.

A production pipeline must survive DynamoDB throttling, an SQS outage or a function dying in the
middle of a batch; locally they never happen by themselves. A rule names what to break (a
service, optionally one operation and one function's calls), how (``throttle``: DynamoDB's
``ProvisionedThroughputExceededException`` or SQS's ``RequestThrottled``; ``unavailable``: HTTP
503; ``crash``: the calling function's busy instances are killed, as if the sandbox died, and the
call fails), and how often (``count`` times, each matching call with ``probability``, after letting the first
``after`` matching calls through).

Rules are managed over HTTP on the emulated AWS endpoint (``/_walocal/faults``), so tests and
people use them the same way::

    curl -X POST localhost:4566/_walocal/faults \\
      -d '{"service": "dynamodb", "operation": "BatchWriteItem", "function": "ProcessorFunction",
           "effect": "throttle", "count": 6}'
    curl localhost:4566/_walocal/faults          # the rules, with how often each fired
    curl -X DELETE localhost:4566/_walocal/faults
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

FAULTS_PATH = "/_walocal/faults"
EFFECTS = ("throttle", "unavailable", "crash")

# (service, effect) -> (HTTP status, error code) as the service answers it.
_ERRORS = {
    ("dynamodb", "throttle"): (400, "ProvisionedThroughputExceededException"),
    ("sqs", "throttle"): (400, "RequestThrottled"),
    ("s3", "throttle"): (503, "SlowDown"),
}
_DEFAULT_ERRORS = {"throttle": (400, "ThrottlingException"), "unavailable": (503, "ServiceUnavailable")}


class FaultSpecError(ValueError):
    """A rule that cannot be applied; the message says which field and why."""


@dataclass
class FaultRule:
    service: str
    effect: str
    operation: str | None = None
    function: str | None = None
    count: int | None = None
    """How many more calls it breaks; None: every matching call until removed."""
    probability: float = 1.0
    after: int = 0
    """How many more matching calls it lets through before it breaks any."""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    hits: int = 0

    @classmethod
    def from_spec(cls, spec: Any) -> FaultRule:
        if not isinstance(spec, Mapping):
            raise FaultSpecError("a fault rule is a JSON object")
        unknown = set(spec) - {"service", "effect", "operation", "function", "count", "probability", "after"}
        if unknown:
            raise FaultSpecError(f"unknown fields: {', '.join(sorted(unknown))}")
        service, effect = spec.get("service"), spec.get("effect")
        if not isinstance(service, str) or not service:
            raise FaultSpecError("service: the AWS service's name, for example dynamodb, sqs or s3")
        if effect not in EFFECTS:
            raise FaultSpecError(f"effect: one of {', '.join(EFFECTS)}")
        for name in ("operation", "function"):
            if spec.get(name) is not None and not isinstance(spec[name], str):
                raise FaultSpecError(f"{name}: a string")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise FaultSpecError("count: a positive integer")
        probability = spec.get("probability", 1.0)
        if (
            not isinstance(probability, int | float)
            or isinstance(probability, bool)
            or not 0 < probability <= 1
        ):
            raise FaultSpecError("probability: a number in (0, 1]")
        after = spec.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise FaultSpecError("after: a whole number of calls to let through first")
        if effect == "crash" and not spec.get("function"):
            raise FaultSpecError("function: a crash needs the function whose instances die")
        return cls(
            service.lower(),
            str(effect),
            spec.get("operation"),
            spec.get("function"),
            count,
            float(probability),
            after,
        )

    def matches(self, service: str, operation: str, function: str | None) -> bool:
        return (
            self.service == service
            and self.operation in (None, operation)
            and self.function in (None, function)
            and (self.count is None or self.count > 0)
        )

    def error(self) -> tuple[int, str]:
        if self.effect == "crash":
            return 500, "InternalFailure"
        return _ERRORS.get((self.service, self.effect)) or _DEFAULT_ERRORS[self.effect]


class Faults:
    """The active rules (thread-safe: the emulator serves requests on many threads)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = rng or random.Random()  # noqa: S311 (chance of a fault, not a secret)
        self.crash: Callable[[str], int] | None = None
        """Kills a function's busy instances; set by the runtime that owns them."""

    def add(self, spec: Any) -> FaultRule:
        rule = FaultRule.from_spec(spec)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def take(self, service: str, operation: str, function: str | None) -> FaultRule | None:
        """The rule that breaks this call, if any (its count and hits are updated)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(service, operation, function) and rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.matches(service, operation, function) and self._rng.random() < rule.probability:
                    rule.hits += 1
                    if rule.count is not None:
                        rule.count -= 1
                    break
            else:
                return None
        if rule.effect == "crash" and function is not None and self.crash is not None:
            self.crash(function)
        return rule


FAULTS = Faults()
