"""Warm webhook CPU per signed POST, against its floor: the HMAC check and SQS SendMessage of the
same body (bench/floors/webhook.py).

Both run warm in one process of the template's runtime (python3.13 when installed) whose path
holds only the webhook's built artifacts, the runtime's own packages (boto3 as Lambda has it) and
the floors (``bench/webhook_instance.py``), with real boto3 clients whose calls go to a stand-in
AWS in another process, so the process clock counts what the function itself spends: event
parsing, the signature check, building and signing the SQS request, reading the answer, logging.
Short blocks of calls in strict turns with the floor's, each side's median block kept (see
:func:`bench.figures.cpu_seconds_per_call`, which this process cannot import): both sides share the
busy and the quiet moments of the shared cores alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.figures import Figure, figure
from bench.harness import FLOORS_DIR, api_event, function_environment, padded, webhook_body
from bench.standin import aws_environment, stand_in
from walocal.build import base_interpreter, build_for_host, find_interpreter, python_version
from walocal.template import Template

NAME = "WebhookFunction"
INSTANCE = Path(__file__).resolve().parent / "webhook_instance.py"
SIZES = ((1024, "1 KB"), (100 * 1024, "100 KB"))
GOAL = 1.1
# Warm calls per block.
BLOCK = 50
_notes: list[str] = []


def measure(blocks: int) -> dict[str, tuple[float, float]]:
    """CPU ms per request of the webhook and of its floor, by body size."""
    found = run_instance(INSTANCE, [(label, size) for size, label in SIZES], blocks)
    return {label: (1000 * own, 1000 * least) for label, (own, least) in found.items()}


def run_instance(script: Path, bodies: list[tuple[str, int]], blocks: int) -> Any:
    """What ``script`` writes to ``BENCH_RESULT``, run in the webhook's process as Lambda loads it
    (its artifacts, the runtime's packages and the floors on the path), given signed POSTs of the
    message_text fixture padded to each size in ``BENCH_EVENTS``."""
    python = find_interpreter("3.13") or base_interpreter()
    template = Template.load()
    spec = template.functions()[NAME]
    path = [*build_for_host(template, python=python).import_path(NAME), FLOORS_DIR]
    _notes[:] = [f"webhook CPU measured on python{python_version(python)} from the built artifacts"]
    events = [[label, api_event(padded(webhook_body("message_text"), size))] for label, size in bodies]
    with stand_in() as endpoint, tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "events.json").write_text(json.dumps(events), encoding="utf-8")
        environment = {
            "LANG": "C.UTF-8",
            **function_environment(NAME, **aws_environment(endpoint)),
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "PYTHONPATH": os.pathsep.join(map(str, path)),
            "BENCH_MEMORY": str(spec.memory_size),
            "BENCH_EVENTS": str(Path(scratch) / "events.json"),
            "BENCH_RESULT": str(Path(scratch) / "result.json"),
            "BENCH_BLOCKS": str(blocks),
            "BENCH_CALLS": str(BLOCK),
        }
        run = subprocess.run(
            [python, "-S", str(script)],
            env=environment,
            cwd=path[0],
            stdout=subprocess.DEVNULL,  # the function's log
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise RuntimeError(f"the webhook's warm run failed: {run.stderr[-2000:]}")
        return json.loads((Path(scratch) / "result.json").read_text(encoding="utf-8"))


def figures(*, quick: bool = False) -> list[Figure]:
    return [
        figure(f"webhook warm CPU per {label} request", "ms", value, floor, check="ratio<=", target=GOAL)
        for label, (value, floor) in measure(blocks=2 if quick else 40).items()
    ]


def assumptions() -> list[str]:
    return [
        "webhook CPU: process CPU time per warm invocation on this machine (one vCPU), AWS answering "
        "from a stand-in in another process, the median of 40 blocks of 50 calls taken in turns with "
        "the floor's; floor: HMAC check + SQS SendMessage of the same body",
        *_notes,
    ]
