"""The processor at Meta's and AWS's limits, through its real entry point: 3 MB POSTs and items
over DynamoDB's 400 KB, POSTs of 1,000 updates and Lambda's timeout, throttled batch writes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from support import processor_budget
from support.aws import REGION
from support.pipeline import Pipeline, messages_value
from support.processor import (
    ThrottledBatchWrites,
    fixture_body,
    has_inbound,
    inbound_item,
    items_by_key,
    slow_table,
    sqs_event,
    statuses_post,
)
from wacloud.table.client import TableClient
from wacloud.table.spill import INLINE_ITEM_BYTES, item_size
from wacloud.webhook.envelope import PayloadPointer
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

DYNAMODB_ITEM_LIMIT = 400 * 1024


@pytest.fixture
def processor(load_function: Callable[[str], LocalFunction]) -> LocalFunction:
    return load_function("ProcessorFunction")


def s3_text(pointer_json: str) -> bytes:
    pointer = PayloadPointer.from_json(pointer_json)
    body: bytes = (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=pointer.bucket, Key=pointer.key)["Body"]
        .read()
    )
    assert hashlib.sha256(body).hexdigest() == pointer.sha256
    return body


# ------------------------------------------------------------------ items over 400 KB
LONG_TEXT = "Hello, here is the whole story. " * 60_000  # about 1.9 MB
TEXT_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTk4MkQ5RTNFQjk5NkY1NTlFNgA="
Item = dict[str, Any]


def long_message() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(fixture_body("message_text.json"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = LONG_TEXT
    return payload


def long_event() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(fixture_body("field_account_update.json"))
    payload["entry"][0]["changes"][0]["value"]["history"] = [{"note": LONG_TEXT}]
    return payload


def long_untyped() -> dict[str, Any]:
    payload = long_message()
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "yesterday"
    return payload


def the_message(items: dict[tuple[str, str], Item], digest: str) -> Item:
    return inbound_item(items, TEXT_WAMID)


def the_event(items: dict[tuple[str, str], Item], digest: str) -> Item:
    (event,) = [item for (pk, _), item in items.items() if pk == "EVENT#account_update"]
    return event


def the_untyped(items: dict[tuple[str, str], Item], digest: str) -> Item:
    return items[(f"RAW#{digest}", "UNTYPED#entry[0].changes[0].value.messages[0]")]


@pytest.mark.parametrize(
    ("make", "find", "spilled"),
    [
        (long_message, the_message, ["raw", "text"]),
        (long_event, the_event, ["raw"]),
        (long_untyped, the_untyped, ["raw"]),
    ],
    ids=["message", "event", "untyped"],
)
def test_a_2_mb_post_is_stored_with_its_large_attributes_in_s3(
    stack: LocalStack,
    load_function: Callable[[str], LocalFunction],
    make: Callable[[], dict[str, Any]],
    find: Callable[[dict[tuple[str, str], Item], str], Item],
    spilled: list[str],
) -> None:
    """Signed and accepted as Meta sent it; before, `Item size has exceeded the maximum allowed
    size` on every retry until the dead-letter queue."""
    body = json.dumps(make()).encode()
    assert len(body) > 1_900_000
    digest = hashlib.sha256(body).hexdigest()
    pipeline = Pipeline(stack, load_function)
    pipeline.post(body)  # over SQS's 1 MiB: the webhook queues a pointer to the body in S3
    assert pipeline.process() == 1  # and no record failed (Pipeline.process checks)

    item = find(items_by_key(stack), digest)
    assert item_size(item) <= INLINE_ITEM_BYTES < DYNAMODB_ITEM_LIMIT
    for name in spilled:
        assert name not in item
        assert LONG_TEXT[:1000] in s3_text(item[f"{name}_s3"]).decode()
    if "text" in spilled:
        assert s3_text(item["text_s3"]).decode() == LONG_TEXT
        assert json.loads(s3_text(item["raw_s3"]))["text"]["body"] == LONG_TEXT

    # Meta delivers it again: the same objects and pointers, the same items.
    before = items_by_key(stack)
    pipeline.post(body)
    assert pipeline.process() == 1
    assert items_by_key(stack) == before


# ------------------------------------------------------------------ the largest POSTs, in time
def counted_calls(monkeypatch: pytest.MonkeyPatch, *names: str) -> list[str]:
    """The names of the table client's methods ``names`` as they are called, in order."""
    calls: list[str] = []
    for name in names:
        original = getattr(TableClient, name)

        def counted(
            self: TableClient, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
        ) -> Any:
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(TableClient, name, counted)
    return calls


def test_a_post_of_1000_statuses_is_stored_in_seconds_and_its_redelivery_skipped(
    processor: LocalFunction, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1,000 statuses of 100 messages. (The emulator takes 20 to 30 ms of CPU per conditional
    # update; 1,000 distinct messages would make this test last half a minute. The worst case's
    # timing is measured by the processor benchmark instead.)
    body = statuses_post(1000, messages=100)
    calls = counted_calls(monkeypatch, "put", "update", "batch_put")

    started = time.monotonic()
    assert processor.invoke(sqs_event(body)) == {"batchItemFailures": []}
    elapsed = time.monotonic() - started

    items = items_by_key(stack)
    assert sum(1 for _, sk in items if sk.startswith("STATUS#")) == 1000
    current = [
        item["status"] for (pk, sk), item in items.items() if pk.startswith("MSG#") and sk == "MESSAGE"
    ]
    assert current == ["read"] * 100  # each message's newest status, from its ten
    digest = hashlib.sha256(body.encode()).hexdigest()
    assert items[(f"RAW#{digest}", "RAW")]["processed_updates"] == 1000
    # 1 archive put, 40 batches of 25, one update per message (its statuses folded), 1 note.
    assert sorted(calls) == sorted(["put"] + ["batch_put"] * 40 + ["update"] * 101)
    assert elapsed < 20, f"{elapsed:.1f} s"

    calls.clear()
    # Meta delivers the POST again: one conditional put finds it stored in full, nothing else.
    assert processor.invoke(sqs_event(body, received_at_ms=1763700200000)) == {"batchItemFailures": []}
    assert calls == ["put"]
    assert items_by_key(stack) == items


def test_an_earlier_receipt_handed_over_later_is_stored_again_not_skipped(
    processor: LocalFunction, stack: LocalStack
) -> None:
    body = statuses_post(30)
    digest = hashlib.sha256(body.encode()).hexdigest()
    assert processor.invoke(sqs_event(body, received_at_ms=1763700200000)) == {"batchItemFailures": []}
    stored = items_by_key(stack)
    assert stored[(f"RAW#{digest}", "RAW")]["processed_updates"] == 30
    # A message lost meanwhile (a bug, an operator): a skipped delivery would not bring it back.
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    table.delete_item(Key={"pk": "MSG#wamid.A00007", "sk": "MESSAGE"})

    # The archive now keeps the earlier receipt, whose put replaced the item and its note.
    assert processor.invoke(sqs_event(body, received_at_ms=1763700100000)) == {"batchItemFailures": []}
    again = items_by_key(stack)
    assert again[("MSG#wamid.A00007", "MESSAGE")] == stored[("MSG#wamid.A00007", "MESSAGE")]
    raw = again[(f"RAW#{digest}", "RAW")]
    assert (raw["received_at_ms"], raw["processed_updates"]) == (1763700100000, 30)


def shorter(processor: LocalFunction, timeout: int) -> LocalFunction:
    """The function with another timeout: what Lambda's context reports as time remaining."""
    processor.spec = dataclasses.replace(processor.spec, timeout=timeout)
    return processor


def test_records_that_would_not_finish_are_not_started_and_reported(
    processor: LocalFunction, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each record: 16 updates, side by side, each 0.4 s over the network: about 0.5 s a record.
    bodies = [statuses_post(16, tag=f"R{index}") for index in range(10)]
    with slow_table(monkeypatch, 0.4):
        started = time.monotonic()
        # 4 s, of which 2 s are kept to answer: room for three or so records, not ten.
        answer = shorter(processor, 4).invoke(sqs_event(*bodies))
        elapsed = time.monotonic() - started

    failed = [entry["itemIdentifier"] for entry in answer["batchItemFailures"]]
    ids = [f"00000000-0000-4000-8000-{index:012d}" for index in range(10)]
    stored = ids[: 10 - len(failed)]
    assert failed == ids[len(stored) :]  # the records after the time ran out, none before
    assert 1 <= len(stored) <= 5
    assert elapsed < 4  # answered within the timeout: the partial report reached Lambda
    items = items_by_key(stack)
    for index in range(10):
        done = sum(1 for pk, sk in items if pk.startswith(f"MSG#wamid.R{index}") and sk == "MESSAGE")
        digest = hashlib.sha256(bodies[index].encode()).hexdigest()
        failure = items.get((f"RAW#{digest}", "FAILURE"))
        assert (failure is not None) == (ids[index] in failed)
        if failure is None:
            assert done == 16
            continue
        assert failure["sqs_message_id"] == ids[index]
        if ids[index] == failed[0] and failure["reason"].startswith("OutOfTimeError: out of time during"):
            # The record running when time ran out, on a machine slower than the estimate: stopped
            # and reported (its writes in flight land on their own, and are repeated by the retry).
            continue
        assert failure["reason"].startswith("OutOfTimeError: not started")
        assert done == 0


def test_a_record_that_overruns_is_stopped_and_reported_before_the_timeout(
    processor: LocalFunction, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 400 updates at 0.6 s each, 16 at a time: 15 s, more than the 8 s the function has. The 6 s
    # before its reserve leave the unslowed archive and puts time to finish on a loaded machine,
    # so the deadline falls in the updates.
    body = statuses_post(400)
    with slow_table(monkeypatch, 0.6):
        started = time.monotonic()
        answer = shorter(processor, 8).invoke(sqs_event(body, fixture_body("message_text.json")))
        elapsed = time.monotonic() - started

    # The record stopped at its deadline, and the next one did not start: no time was left.
    ids = ["00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000001"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in ids]}
    assert elapsed < 8
    items = items_by_key(stack)
    failure = items[(f"RAW#{hashlib.sha256(body.encode()).hexdigest()}", "FAILURE")]
    assert failure["reason"].startswith("OutOfTimeError: out of time during updating messages and contacts")
    text = fixture_body("message_text.json")
    assert items[(f"RAW#{hashlib.sha256(text).hexdigest()}", "FAILURE")]["reason"].startswith(
        "OutOfTimeError: not started"
    )


def test_the_retry_of_a_record_that_overran_goes_on_from_where_it_stopped(
    processor: LocalFunction, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As above: 200 updates at 0.6 s, WRITE_CONCURRENCY at a time, take longer than the 6 s the
    # function leaves after its reserve, which leave the unslowed puts time to finish.
    body = statuses_post(200)
    timeout = processor.spec.timeout
    with slow_table(monkeypatch, 0.6) as stop_waiting:
        answer = shorter(processor, 8).invoke(sqs_event(body))
        stop_waiting.set()
    assert answer == {"batchItemFailures": [{"itemIdentifier": "00000000-0000-4000-8000-000000000000"}]}
    time.sleep(0.5)  # the writes in flight when the record was stopped land
    first = items_by_key(stack)
    updated = {pk for pk, sk in first if pk.startswith("MSG#") and sk == "MESSAGE"}
    assert sum(1 for _, sk in first if sk.startswith("STATUS#")) == 200  # the puts came first
    assert 0 < len(updated) < 200

    calls = counted_calls(monkeypatch, "update", "batch_put", "batch_get")
    # SQS hands the record over again: what the first attempt stored is read, not written again.
    # With the template's timeout again: this attempt has all the time the rest needs.
    assert shorter(processor, timeout).invoke(sqs_event(body, receive_count=2)) == {"batchItemFailures": []}
    assert calls.count("batch_put") == 0
    # The messages the first attempt did not reach, then the note that the payload is stored in full.
    assert calls.count("update") == 200 - len(updated) + 1
    assert calls.count("batch_get") == 2  # the status items, then the messages' status facets
    items = items_by_key(stack)
    current = {
        pk: item["status"] for (pk, sk), item in items.items() if pk.startswith("MSG#") and sk == "MESSAGE"
    }
    assert current == {f"MSG#wamid.A{index:05d}": "sent" for index in range(200)}
    assert {key: item for key, item in items.items() if key[0] in updated} == {
        key: item for key, item in first.items() if key[0] in updated
    }


# ------------------------------------------------------------------ throttled batch writes
@pytest.fixture
def throttled(stack: LocalStack) -> Iterator[ThrottledBatchWrites]:
    session = boto3.DEFAULT_SESSION
    assert session is not None  # the stack's, with the emulated AWS
    with ThrottledBatchWrites(throttled=1_000_000).installed(session) as throttle:
        yield throttle


def test_throttled_batch_writes_back_off_a_bounded_number_of_times_then_fail_the_record(
    throttled: ThrottledBatchWrites,
    load_function: Callable[[str], LocalFunction],
    stack: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[int] = []

    def wait(self: TableClient, attempt: int, until: float | None, what: str) -> None:
        waits.append(attempt)  # counted, not waited: the waits themselves are unit-tested

    monkeypatch.setattr(TableClient, "_wait", wait)
    processor = load_function("ProcessorFunction")
    body = fixture_body("batch_mixed.json")

    answer = processor.invoke(sqs_event(body))

    assert answer == {"batchItemFailures": [{"itemIdentifier": "00000000-0000-4000-8000-000000000000"}]}
    assert throttled.calls == 8  # then it gives up, instead of spinning
    assert waits == [1, 2, 3, 4, 5, 6, 7]
    failure = items_by_key(stack)[(f"RAW#{hashlib.sha256(body).hexdigest()}", "FAILURE")]
    written = 3 + 5 + 1  # the POST's messages, statuses and other field: one batch
    assert failure["reason"] == (
        f"TableUnavailableError: BatchWriteItem left {written} items unwritten after 8 attempts (throttled)"
    )
    # A POST the typed items could not store is archived with the note, for `wactl raw show` and
    # `raw replay`, though the template archives only such exceptions.
    assert items_by_key(stack)[(f"RAW#{hashlib.sha256(body).hexdigest()}", "RAW")]["body"] == body.decode()


def test_batch_writes_throttled_for_a_while_get_through(
    throttled: ThrottledBatchWrites, load_function: Callable[[str], LocalFunction], stack: LocalStack
) -> None:
    throttled.throttled = 2
    processor = load_function("ProcessorFunction")
    started = time.monotonic()
    assert processor.invoke(sqs_event(fixture_body("message_text.json"))) == {"batchItemFailures": []}
    assert time.monotonic() - started < 2  # two short, jittered waits
    assert throttled.calls == 3
    assert has_inbound(items_by_key(stack), TEXT_WAMID)


def test_a_message_value_on_its_own_line_still_fits(processor: LocalFunction, stack: LocalStack) -> None:
    """An item just over the inline limit keeps its keys and small attributes in the table."""
    value = messages_value(
        contacts=[{"profile": {"name": "Kerry Fisher"}, "wa_id": "16505551234"}],
        messages=[
            {
                "from": "16505551234",
                "id": "wamid.MEDIUM",
                "timestamp": "1763700000",
                "type": "text",
                "text": {"body": "x" * (INLINE_ITEM_BYTES // 2 + 100)},
            }
        ],
    )
    assert processor.invoke(sqs_event(json.dumps(value))) == {"batchItemFailures": []}
    item = inbound_item(items_by_key(stack), "wamid.MEDIUM")
    assert "raw_s3" in item
    assert item["text"] == "x" * (INLINE_ITEM_BYTES // 2 + 100)
    assert (item["pk"], item["sk"], item["type"]) == (
        "CONTACT#16505551234",
        "MSG#1763700000#wamid.MEDIUM",
        "text",
    )


def test_the_worst_batch_measurement_runs_and_counts_the_calls_it_should() -> None:
    """`python -m support.processor_budget` sizes the template; this keeps it working."""
    measured = processor_budget.measure(records=2, updates=20, latency=0.0)
    assert measured.failed == 0
    # Per record: 1 batch of 20 items, 20 message and 20 profile updates (no archive: fewer than
    # 25 updates, all typed).
    assert measured.calls == 2 * (1 + 20 + 20)
    assert len(measured.record_seconds) == 2
    assert "a batch of 2 records as slow as the slowest" in measured.lines()[-1]
