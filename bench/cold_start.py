"""Cold start of each function's module against the floor every function pays: importing boto3.

Each sample is a fresh interpreter (as a new Lambda sandbox is), timed from start to exit.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from walocal.template import Resolver, Template

BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


class _Anything(dict[tuple[str, str], str]):
    def __missing__(self, key: tuple[str, str]) -> str:
        return f"{key[0]}-{key[1]}"


def _environment(name: str) -> dict[str, str]:
    """The function's environment from template.yaml, every resource standing in by name."""
    template = Template.load()
    resolver = Resolver(
        parameters={**template.parameter_defaults(), "PhoneNumberId": "123456789012345"},
        conditions_source=template.body.get("Conditions", {}),
        refs={resource: f"https://example.test/{resource}" for resource in template.resources},
        attributes=_Anything(),
        pseudo={
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
        },
    )
    spec = template.functions()[name]
    return {key: str(resolver.resolve(value)) for key, value in spec.environment.items()}


FLOOR = "import boto3"
LOAD = (
    "from walocal.template import Template\n"
    "from walocal.functions import load_module\n"
    "load_module(Template.load().functions()[{name!r}])\n"
)
# Importing the loader itself (yaml, the template) is not part of a Lambda cold start: subtract it.
LOADER_ONLY = "import boto3\nfrom walocal.template import Template\nTemplate.load().functions()\n"


def _median_seconds(code: str, samples: int, function: str | None = None) -> float:
    env = {**os.environ, **BASE_ENV, **(_environment(function) if function else {})}
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(samples: int = 7) -> str:
    interpreter = _median_seconds("pass", samples)
    floor = _median_seconds(FLOOR, samples) - interpreter
    loader = _median_seconds(LOADER_ONLY, samples) - interpreter
    lines = [
        "cold start: module import time over the boto3 floor (fresh interpreter, median of "
        f"{samples}; boto3 floor {floor * 1000:.0f} ms)",
        f"  {'function':<20} {'import ms':>10} {'x floor':>8}",
    ]
    for name in ("WebhookFunction", "ProcessorFunction", "SenderFunction"):
        total = _median_seconds(LOAD.format(name=name), samples, name) - interpreter
        own = floor + max(total - loader, 0.0)
        lines.append(f"  {name:<20} {own * 1000:>10.0f} {own / floor:>8.2f}")
    return "\n".join(lines)
