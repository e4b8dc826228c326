"""The benchmarks stay runnable: a quick run of ``python -m bench`` writes every figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import SECTIONS
from bench.figures import KEYS

ROOT = Path(__file__).resolve().parents[2]


def _bench(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("layers/shared", "local", "tools", ".")),
    }
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_a_quick_run_writes_every_figure_with_its_floor_and_goal(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    run = _bench("bench", "--quick", "--output", str(output), timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(output.read_text())["figures"]
    assert figures
    for item in figures:
        assert tuple(sorted(item)) == tuple(sorted(KEYS))
        assert isinstance(item["value"], int | float)
        assert item["met"] in (True, False, None)
        if item["floor"]:
            assert item["ratio"] == pytest.approx(item["value"] / item["floor"], rel=0.01)
    names = " ".join(item["name"] for item in figures)
    for section in SECTIONS:
        assert f"{section}: " in run.stdout  # each section ran and said how long it took
    assert "write units per inbound text, first delivery" in names
    # The table printed is the one written.
    assert all(item["name"] in run.stdout for item in figures)
    assert "Assumptions:" in run.stdout


@pytest.mark.slow
def test_the_webhook_steps_account_times_each_step_and_the_handlers_in_turns() -> None:
    run = _bench("bench.webhook_steps", "--blocks", "2", timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    for step in ("reading the HTTP API event", "Powertools' context injection", "the invocation's metrics"):
        assert any(line.strip().startswith(step) and line.rstrip().endswith(" us") for line in lines)
    for handler in ("webhook", "its core", "SendMessage of the body alone"):
        assert any(line.strip().startswith(handler) and "x the floor" in line for line in lines)
    assert any(line.strip().startswith("floor") and "1.000x the floor" in line for line in lines)
