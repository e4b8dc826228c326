"""Cold start of each function from its built artifacts, against the floor every function pays.

Each sample is a fresh interpreter whose path holds only the function's artifacts (as built for
this machine by the template's Makefiles) and the runtime directory, as in a new Lambda sandbox,
timed from start to exit. The floor is the same interpreter importing boto3 from the runtime
directory. Without bytecode, the artifacts are copied without ``__pycache__`` and nothing may be
written, as on Lambda's read-only /var/task and /opt: every cold start compiles again.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from walocal.build import HostArtifacts, base_interpreter, build_for_host, find_interpreter, python_version
from walocal.template import Resolver, Template

FUNCTIONS = ("WebhookFunction", "ProcessorFunction", "SenderFunction")
BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "LANG": "C.UTF-8",
}


class _Anything(dict[tuple[str, str], str]):
    def __missing__(self, key: tuple[str, str]) -> str:
        return f"{key[0]}-{key[1]}"


def _environment(template: Template, name: str) -> dict[str, str]:
    """The function's environment from template.yaml, every resource standing in by name."""
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


def _median_seconds(
    python: str, path: list[Path], code: str, samples: int, env: dict[str, str], *, compiled: bool = True
) -> float:
    environment = {**BASE_ENV, **env, "PYTHONPATH": os.pathsep.join(map(str, path))}
    if not compiled:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run([python, "-S", "-c", code], env=environment, cwd=path[0], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _without_bytecode(artifacts: HostArtifacts, into: Path) -> dict[str, list[Path]]:
    """Each function's import path, its artifacts copied without bytecode (the runtime keeps its own)."""
    ignore = shutil.ignore_patterns("__pycache__")
    paths = {}
    for name in FUNCTIONS:
        task_root = into / name
        shutil.copytree(artifacts.functions[name], task_root, ignore=ignore)
        layers = []
        for layer in reversed(artifacts.function_layers[name]):
            if not (into / layer).exists():
                shutil.copytree(artifacts.layers[layer], into / layer, ignore=ignore)
            layers.append(into / layer / "python")
        paths[name] = [task_root, *layers, artifacts.runtime]
    return paths


def _report(python: str, template: Template, samples: int) -> list[str]:
    artifacts = build_for_host(template, python=python)
    interpreter = _median_seconds(python, [artifacts.runtime], "pass", samples, {})
    floor = _median_seconds(python, [artifacts.runtime], "import boto3", samples, {}) - interpreter
    version = Path(python).name
    lines = [
        f"cold start from built artifacts, {version}: module import over the boto3 floor "
        f"(fresh interpreter, median of {samples}; boto3 floor {floor * 1000:.0f} ms)",
        f"  {'function':<20} {'bytecode ms':>12} {'x floor':>8} {'no bytecode ms':>15} {'x floor':>8}",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        uncompiled = _without_bytecode(artifacts, Path(scratch))
        for name in FUNCTIONS:
            env = _environment(template, name)
            with_pyc = _median_seconds(python, artifacts.import_path(name), "import app", samples, env)
            without = _median_seconds(python, uncompiled[name], "import app", samples, env, compiled=False)
            own, raw = with_pyc - interpreter, without - interpreter
            compiled = f"{own * 1000:>12.0f} {own / floor:>8.2f}"
            lines.append(f"  {name:<20} {compiled} {raw * 1000:>15.0f} {raw / floor:>8.2f}")
    return lines


def run(samples: int = 7, *, with_lambda_python: bool = True) -> str:
    """Every function on this machine's Python and, if one is installed, on python3.13."""
    template = Template.load()
    interpreters = [base_interpreter()]
    lambda_python = find_interpreter("3.13") if with_lambda_python else base_interpreter()
    if lambda_python and python_version(lambda_python) != python_version(interpreters[0]):
        interpreters.append(lambda_python)
    lines: list[str] = []
    for python in interpreters:
        lines += _report(python, template, samples)
    if lambda_python is None:
        lines.append("  (python3.13, the template's runtime, not found: only this machine's Python measured)")
    return "\n".join(lines)
