"""The benchmarks' arithmetic: billed SQS chunks, Lambda durations by memory, cost per million."""

from __future__ import annotations

import sys
import time
import types

import pytest

from bench import parse, prices, standin
from bench.__main__ import run
from bench.cost import Invocations, Usage, duration_ms, http_api_units
from bench.figures import check_shape, cpu_seconds_per_call, figure, table
from bench.metering import sqs_billed, sqs_chunks, sqs_message_bytes


def test_each_started_64_kb_chunk_is_a_billed_request() -> None:
    assert [sqs_chunks(size) for size in (0, 1, 65536, 65537, 200_000)] == [1, 1, 1, 2, 4]


def test_a_message_is_billed_on_its_body_and_attributes() -> None:
    attributes = {"received_at_ms": {"DataType": "Number", "StringValue": "1763700100000"}}
    assert sqs_message_bytes("héllo", attributes) == 6 + len("received_at_ms") + len("Number") + 13


def test_a_batch_shares_its_chunks_and_a_receive_is_billed_on_what_it_returned() -> None:
    entries = [{"MessageBody": "x" * 40_000}, {"MessageBody": "y" * 40_000}]
    assert sqs_billed("SendMessageBatch", {"Entries": entries}, {}) == 2
    assert sqs_billed("SendMessage", {"MessageBody": "x" * 100}, {}) == 1
    assert sqs_billed("ReceiveMessage", {}, {"Messages": [{"Body": "z" * 70_000}]}) == 2
    assert sqs_billed("DeleteMessageBatch", {"Entries": entries}, {}) == 1


def test_http_api_requests_are_metered_per_started_512_kb() -> None:
    assert [http_api_units(size) for size in (1, 524_288, 524_289)] == [1, 1, 2]


def test_a_duration_stretches_cpu_by_the_memory_share_and_keeps_waits() -> None:
    assert duration_ms(cpu_ms=10, wait_ms=5, memory_mb=1769) == 15
    assert duration_ms(cpu_ms=10, wait_ms=5, memory_mb=3538) == 15  # past one vCPU, no faster
    assert duration_ms(cpu_ms=1, wait_ms=0, memory_mb=128) == 14  # 13.8 ms, billed per started ms


def test_cost_per_million_adds_every_service_at_list_prices() -> None:
    usage = Usage(
        events=10,
        http_api_requests=10,
        invocations=[Invocations("f", count=10, memory_mb=1024, cpu_ms=0, wait_ms=100)],
        sqs_requests=30,
        write_units=10,
        read_units=4,
        secrets_manager_calls=1,
        s3_puts=0,
    )
    expected = (
        (
            10 * prices.HTTP_API_REQUEST_USD
            + 10 * prices.LAMBDA_REQUEST_USD
            + 10 * 1.0 * 0.1 * prices.LAMBDA_ARM_GB_SECOND_USD
            + 30 * prices.SQS_REQUEST_USD
            + 10 * prices.DYNAMODB_WRITE_UNIT_USD
            + 4 * prices.DYNAMODB_READ_UNIT_USD
            + 1 * prices.SECRETS_MANAGER_CALL_USD
        )
        * 1_000_000
        / 10
    )
    assert usage.usd_per_million() == pytest.approx(expected)


def test_a_figure_states_its_ratio_and_whether_it_meets_its_goal() -> None:
    cheap = figure("cost", "USD", 1.1, 1.0, check="ratio<=", target=1.15)
    assert (cheap["ratio"], cheap["goal"], cheap["met"]) == (1.1, "<= 1.15x floor", True)
    assert figure("rate", "msg/s", 70, 80, check="value>=", target=76)["met"] is False
    reported = figure("rss", "MB", 90, None)
    assert (reported["ratio"], reported["met"], reported["goal"]) == (None, None, "reported")
    check_shape([cheap, reported])
    assert "| cost | USD | 1.1 | 1 | 1.1 | <= 1.15x floor | yes |" in table([cheap])


def test_a_figure_with_other_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="keys"):
        check_shape([{"name": "x", "value": 1}])


def test_a_section_is_any_module_with_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = types.ModuleType("bench_plain_section")
    plain.figures = lambda: [figure("rate", "msg/s", 79, 80, check="value>=", target=76)]  # type: ignore[attr-defined]
    timed = types.ModuleType("bench_quick_section")
    timed.figures = lambda quick=False: [figure("q", "s", 1.0 if quick else 2.0, None)]  # type: ignore[attr-defined]
    timed.assumptions = lambda: ["ran quickly"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, plain.__name__, plain)
    monkeypatch.setitem(sys.modules, timed.__name__, timed)
    figures, assumptions = run((plain.__name__, timed.__name__), quick=True)
    assert [(item["name"], item["value"], item["met"]) for item in figures] == [
        ("rate", 79, True),
        ("q", 1.0, None),
    ]
    assert assumptions == ["ran quickly"]


def test_without_pywa_the_parse_benchmark_leaves_the_peer_out_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parse, "pywa_parser", lambda: None)
    (only,) = parse.figures(quick=True)
    assert (only["name"], only["goal"]) == ("parse per update (read_payload)", "<= 2x floor")
    assert any("pywa not installed" in line for line in parse.assumptions())


def test_timed_actions_take_turns_block_by_block_and_a_disturbed_block_does_not_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    order: list[str] = []

    def action(name: str, cost: float) -> None:
        order.append(name)
        clock[0] += cost
        if len(order) == 20:  # in the fast action's third block, another process took the core
            clock[0] += 100.0

    monkeypatch.setattr(time, "process_time", lambda: clock[0])

    def fast() -> None:
        action("fast", 1.0)

    def slow() -> None:
        action("slow", 3.0)

    found = cpu_seconds_per_call([fast, slow], calls=4, blocks=5)

    assert found == [1.0, 3.0]
    # One warm-up call each, then blocks of four calls in strict turns.
    assert order[:2] == ["fast", "slow"]
    runs = [order[start] for start in range(2, len(order), 4)]
    assert runs == ["fast", "slow"] * 5
    assert all(len(set(order[start : start + 4])) == 1 for start in range(2, len(order), 4))


def test_a_stand_in_that_dies_at_start_is_an_error_not_a_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # The child process runs sys.exit(port, latency): a TypeError, so it exits at once.
    monkeypatch.setattr(standin, "_serve", sys.exit)
    with pytest.raises(RuntimeError, match="stand-in exited at start"), standin.stand_in():
        pass
