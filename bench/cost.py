"""Cost per million events from counted calls, measured durations and the template's memory sizes.

Lambda bills each invocation's duration (rounded up to the millisecond) times its memory, and
gives a function CPU in proportion to its memory: one vCPU at 1,769 MB. A duration at a memory
size is therefore the CPU time measured on one vCPU stretched by that share, plus the time spent
waiting for AWS's answers, which does not depend on memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench import prices
from walocal.template import Template

FULL_VCPU_MB = 1769


def duration_ms(cpu_ms: float, wait_ms: float, memory_mb: int) -> float:
    """An invocation's billed duration at ``memory_mb``: CPU by its share of a vCPU, waits as they are."""
    share = min(1.0, memory_mb / FULL_VCPU_MB)
    return float(math.ceil(cpu_ms / share + wait_ms))


@dataclass(frozen=True)
class Invocations:
    """A function's invocations for the events counted."""

    function: str
    count: float
    memory_mb: int
    cpu_ms: float
    """CPU time of one invocation on one vCPU."""
    wait_ms: float
    """Time one invocation waits for AWS."""

    @property
    def duration_ms(self) -> float:
        return duration_ms(self.cpu_ms, self.wait_ms, self.memory_mb)

    @property
    def gb_seconds(self) -> float:
        return self.count * self.memory_mb / 1024 * self.duration_ms / 1000


@dataclass
class Usage:
    """What a number of events consumed, as AWS bills it."""

    events: int
    http_api_requests: float = 0.0
    """Metering units: one per 512 KB of a request, started."""
    invocations: list[Invocations] = field(default_factory=list)
    sqs_requests: float = 0.0
    write_units: float = 0.0
    read_units: float = 0.0
    secrets_manager_calls: float = 0.0
    s3_puts: float = 0.0

    def usd(self) -> dict[str, float]:
        """Each service's cost of the events counted."""
        return {
            "HTTP API": self.http_api_requests * prices.HTTP_API_REQUEST_USD,
            "Lambda requests": sum(i.count for i in self.invocations) * prices.LAMBDA_REQUEST_USD,
            "Lambda GB-s": sum(i.gb_seconds for i in self.invocations) * prices.LAMBDA_ARM_GB_SECOND_USD,
            "SQS": self.sqs_requests * prices.SQS_REQUEST_USD,
            "DynamoDB writes": self.write_units * prices.DYNAMODB_WRITE_UNIT_USD,
            "DynamoDB reads": self.read_units * prices.DYNAMODB_READ_UNIT_USD,
            "Secrets Manager": self.secrets_manager_calls * prices.SECRETS_MANAGER_CALL_USD,
            "S3 PUT": self.s3_puts * prices.S3_PUT_USD,
        }

    def usd_per_million(self) -> float:
        return sum(self.usd().values()) * prices.MILLION / self.events


def http_api_units(body_bytes: int) -> int:
    return max(1, math.ceil(body_bytes / prices.HTTP_API_METERING_BYTES))


def memory_sizes() -> dict[str, int]:
    """Each function's MemorySize in template.yaml (its own, or the Globals' one)."""
    return {name: spec.memory_size for name, spec in Template.load().functions().items()}
