"""What the metrics cost the webhook: its cold start and warm CPU, with and without them.

The floor is the same handler with its metric lines taken out (the import of
``wacloud.core.metrics``, the ``@metrics.published`` decorator and each ``metrics.count``), built
from ``functions/webhook/app.py`` itself, so it follows the handler as it changes. Both run from
the same built artifacts, in turns (a busy moment of the shared machine weighs on both alike):
the cold start as in bench/cold_start.py (a fresh interpreter per sample, CPU time of INIT and
the first event), the warm CPU as in bench/webhook_cpu.py (a signed 1 KB POST, AWS answering
from a stand-in). The goal: within 5% of the floor on both.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from bench.cold_start import _CHILD, _run
from bench.figures import Figure, cpu_seconds_per_call, figure
from bench.harness import (
    Loaded,
    api_event,
    function_environment,
    log_sink,
    padded,
    saved_environment,
    webhook_body,
)
from bench.standin import aws_environment, stand_in
from walocal.build import base_interpreter, build_for_host, find_interpreter
from walocal.functions import load_module
from walocal.template import Template

GOAL = 1.05
# Warm calls per block; blocks of each run in turns (the shared cores make any one block noisy).
BLOCK = 50
NAME = "WebhookFunction"


def without_metrics(source: str) -> str:
    """The handler's source with every line that records or publishes metrics removed."""
    kept = [line for line in source.splitlines() if "metrics" not in line or line.lstrip().startswith("#")]
    stripped = "\n".join(kept) + "\n"
    compile(stripped, "app.py", "exec")  # still a module
    return stripped


@contextmanager
def floor_code(code_dir: Path) -> Iterator[Path]:
    """A copy of the function's code directory whose app.py records no metrics."""
    with tempfile.TemporaryDirectory(prefix="bench-no-metrics-") as scratch:
        target = Path(scratch) / "function"
        shutil.copytree(code_dir, target)
        app = target / "app.py"
        app.write_text(without_metrics(app.read_text(encoding="utf-8")), encoding="utf-8")
        yield target


def measure(samples: int, blocks: int) -> dict[str, tuple[float, float]]:
    """(with metrics, without) for the cold start and the warm CPU, in ms."""
    python = find_interpreter("3.13") or base_interpreter()
    template = Template.load()
    spec = template.functions()[NAME]
    artifacts = build_for_host(template, python=python)
    path = artifacts.import_path(NAME)
    found: dict[str, tuple[float, float]] = {}
    with saved_environment(), log_sink(), stand_in() as endpoint, floor_code(path[0]) as bare:
        environment = {
            **function_environment(NAME),
            **aws_environment(endpoint),
            "BENCH_FUNCTION": NAME,
            "BENCH_MEMORY": str(spec.memory_size),
            "BENCH_EVENTS": json.dumps([api_event(webhook_body("message_text"))]),
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
        own, floor = [], []
        for _ in range(samples):
            own.append(_run(python, path, ["-c", _CHILD], environment).seconds)
            floor.append(_run(python, [bare, *path[1:]], ["-c", _CHILD], environment).seconds)
        found["cold start"] = (1000 * min(own), 1000 * min(floor))

        os.environ.update(environment)  # the handlers read it when loaded
        with_metrics = Loaded(spec, load_module(spec))
        bare_spec = replace(spec, code_dir=bare)
        bare_handler = Loaded(bare_spec, load_module(bare_spec))
        event = api_event(padded(webhook_body("message_text"), 1024))
        assert with_metrics(event)["statusCode"] == 200
        assert bare_handler(event)["statusCode"] == 200
        warm_own, warm_floor = cpu_seconds_per_call(
            [functools.partial(with_metrics, event), functools.partial(bare_handler, event)], BLOCK, blocks
        )
        found["warm CPU per 1 KB request"] = (1000 * warm_own, 1000 * warm_floor)
    return found


def figures(*, quick: bool = False) -> list[Figure]:
    found = measure(samples=1 if quick else 15, blocks=2 if quick else 40)
    return [
        figure(f"webhook {label} with metrics vs without", "ms", value, floor, check="ratio<=", target=GOAL)
        for label, (value, floor) in found.items()
    ]


def assumptions() -> list[str]:
    return [
        "metrics overhead: the webhook as built against the same handler with its metric lines "
        "removed, in turns; cold start: 15 fresh interpreters each, the fastest of each kept (CPU of "
        "INIT + first event); warm CPU: 40 blocks of 50 signed 1 KB POSTs each, the median block of each"
    ]
