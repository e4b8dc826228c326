"""The benchmarks stay runnable: each runs once, briefly, and reports its ratio to its floor."""

from __future__ import annotations

import re

from bench import cold_start, local_pipeline, webhook_latency


def test_cold_start_reports_every_function() -> None:
    # This machine's Python only: the test checks the benchmark runs, make bench measures both.
    report = cold_start.run(samples=1, with_lambda_python=False)
    for name in ("WebhookFunction", "ProcessorFunction", "SenderFunction"):
        # With and without bytecode, each as milliseconds and a ratio to the floor.
        assert re.search(rf"{name}\s+\d+\s+\d+\.\d\d\s+\d+\s+\d+\.\d\d", report)


def test_webhook_latency_reports_ratios() -> None:
    assert len(re.findall(r"\d+\.\d\s*$", webhook_latency.run(rounds=20), re.M)) == 2


def test_local_pipeline_reports_the_post_against_the_handshake() -> None:
    report = local_pipeline.run(rounds=5)
    assert re.search(r"x floor \d+\.\d\d", report)
    assert re.search(r"POST until stored\s+\d+ ms", report)
