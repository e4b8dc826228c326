"""``wactl raw``: archived webhook payloads are listed, and replayed so the processor stores them again.

Payloads go the production way: the webhook function queues each signed POST, the processor
archives and stores it. A replay must reproduce what the webhook function queued (body and receipt
attributes) so that the processor's idempotent writes and earliest-receipt archive hold.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import pytest

import wacloud.processor.updates
from support.aws import REGION, table_items
from support.pipeline import KERRY, Pipeline, deploy_outputs, inbound, status, wactl
from wacloud.meta.inbound import ReadPayload, read_payload
from walocal.functions import LocalFunction
from walocal.provision import LocalStack


@pytest.fixture
def pipeline(stack: LocalStack, load_function: Callable[..., LocalFunction]) -> Pipeline:
    """A stack that archives every POST (``RawArchive: all``), which these commands list and replay."""
    deploy_outputs(stack)
    return Pipeline(stack, load_function, raw_archive="all")


def sha256(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def large_batch(count: int = 60) -> dict[str, Any]:
    """Statuses enough to pass the 8 KB the table keeps inline: the archive is an S3 object."""
    now = int(time.time())
    updates = [
        status(f"wamid.BIG{index:03d}", "delivered", now - index, category="service")
        for index in range(count)
    ]
    payload = updates[0]
    payload["entry"][0]["changes"][0]["value"]["statuses"] = [
        update["entry"][0]["changes"][0]["value"]["statuses"][0] for update in updates
    ]
    assert len(json.dumps(payload)) > 8192
    return payload


def state(stack: LocalStack) -> list[dict[str, Any]]:
    """The table, less the SQS message id an archive notes: a replay arrives under a new one, which
    breaks the tie between two receipts of the same time and request either way."""
    items = table_items(stack)
    for item in items:
        if item["sk"] == "RAW":
            item["gsi1sk"] = item["gsi1sk"].rpartition("#")[0]
            del item["sqs_message_id"]
    return items


def queued(stack: LocalStack) -> list[dict[str, Any]]:
    """The webhook queue's messages, left visible for the processor (the tests queue fewer than 10)."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[Any] = sqs.receive_message(
        QueueUrl=stack.queue_urls["WebhookQueue"],
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return messages


def test_list_shows_the_day_in_order_of_receipt_with_what_each_holds(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    now = int(time.time())
    payloads = [inbound(KERRY, "hello", now - 5), status("wamid.OUT1", "read", now - 4), large_batch()]
    pipeline.deliver(*payloads)

    code, out, _ = wactl(capsys, "raw", "list")

    assert code == 0
    lines = out.splitlines()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert lines[0] == f"Raw payloads received {today} (UTC), stack whatsapp-cloud (us-east-1): 3"
    rows = [line.split(maxsplit=5) for line in lines[2:5]]
    assert [row[2] for row in rows] == [sha256(payload) for payload in payloads]
    assert [row[4] for row in rows] == ["table", "table", "s3"]
    assert rows[0][5] == "webhook: 1 message (text)"
    assert rows[1][5] == "webhook: 1 status (read)"
    assert rows[2][5].startswith(f"payload in s3://{stack.bucket_names['PayloadBucket']}/archive/")

    code, out, _ = wactl(capsys, "raw", "list", "--max", "2", "--json")
    document = json.loads(out)
    assert (document["more"], [p["sha256"] for p in document["payloads"]]) == (
        True,
        [sha256(p) for p in payloads[:2]],
    )
    assert document["payloads"][0]["body"] == json.dumps(payloads[0])

    code, out, _ = wactl(capsys, "raw", "list", "--day", "2020-01-01")
    assert (code, out.splitlines()[-1]) == (
        0,
        "Raw payloads received 2020-01-01 (UTC), stack whatsapp-cloud (us-east-1): 0",
    )


def test_a_replayed_payload_is_queued_as_received_and_stored_again(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = inbound(KERRY, "hello", int(time.time()))
    pipeline.post(payload)
    [original] = queued(stack)
    pipeline.process()
    stored = state(stack)
    # A bug lost the message (the archive kept the payload).
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    table.delete_item(Key={"pk": f"MSG#{wamid}", "sk": "MESSAGE"})

    code, out, _ = wactl(capsys, "raw", "replay", sha256(payload))

    assert code == 0
    assert out.splitlines()[-1].startswith(f"Replayed 1 payload to {stack.queue_urls['WebhookQueue']}")
    [replayed] = queued(stack)
    assert replayed["Body"] == original["Body"]
    # The webhook's attributes as queued, and a mark that this is a replay: store it again.
    attributes = replayed["MessageAttributes"]
    assert attributes.pop("replay") == {"StringValue": "wactl raw replay", "DataType": "String"}
    assert attributes == original["MessageAttributes"]
    assert pipeline.process() == 1
    # Everything as after the first delivery: the message again, the archive as it was.
    assert state(stack) == stored


def test_a_payload_archived_in_s3_is_replayed_as_a_pointer(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = large_batch()
    pipeline.deliver(payload)
    stored = state(stack)
    raw = next(item for item in stored if item["pk"] == f"RAW#{sha256(payload)}")

    code, _, _ = wactl(capsys, "raw", "replay", sha256(payload))

    assert code == 0
    [replayed] = queued(stack)
    assert replayed["Body"] == raw["body_s3"]
    assert replayed["MessageAttributes"]["payload_location"]["StringValue"] == "s3"
    assert replayed["MessageAttributes"]["received_at_ms"]["StringValue"] == str(raw["received_at_ms"])
    # Stored in full before (60 updates: noted on the archive), yet a replay is stored again.
    assert raw["processed_updates"] == 60
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    table.delete_item(Key={"pk": "MSG#wamid.BIG007", "sk": "MESSAGE"})
    assert pipeline.process() == 1  # the processor read the body from the bucket
    assert state(stack) == stored


def test_a_day_is_replayed_up_to_max_and_a_dry_run_sends_nothing(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    now = int(time.time())
    payloads = [inbound(KERRY, f"message {index}", now - 10 + index) for index in range(3)]
    pipeline.deliver(*payloads)
    day = time.strftime("%Y-%m-%d", time.gmtime())

    code, out, _ = wactl(capsys, "raw", "replay", "--day", day, "--dry-run")
    assert code == 0
    assert out.count("would replay") == 3
    assert queued(stack) == []

    code, out, err = wactl(capsys, "raw", "replay", "--day", day, "--max", "2", "--json")
    assert code == 0
    document = json.loads(out)
    assert [entry["sha256"] for entry in document["replayed"]] == [sha256(p) for p in payloads[:2]]
    assert err.count(" replayed ") == 2  # progress, on stderr beside the JSON
    assert sorted(m["Body"] for m in queued(stack)) == sorted(json.dumps(p) for p in payloads[:2])


def test_unknown_payloads_fail_alone_and_bad_requests_touch_nothing(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = inbound(KERRY, "hello", int(time.time()))
    pipeline.deliver(payload)
    missing = "f" * 64

    code, out, _ = wactl(capsys, "raw", "replay", missing, sha256(payload).upper())
    assert code == 1
    assert f"    1 not found     {missing}" in out
    assert "1 could not be replayed" in out
    assert [m["Body"] for m in queued(stack)] == [json.dumps(payload)]

    for argv, message in [
        ([], "name the payloads"),
        (["abc"], "not a SHA-256 (64 hex digits): abc"),
        ([missing, "--day", "2025-11-21"], "name the payloads"),
        ([missing, "--max", "2"], "--max goes with --day"),
    ]:
        code, _, err = wactl(capsys, "raw", "replay", *argv)
        assert (code, message in err) == (1, True), err


def iso_status(wamid: str, when: str) -> dict[str, Any]:
    payload = status(wamid, "read", 0)
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = when
    return payload


def test_a_part_the_models_refuse_is_shown_and_stored_after_a_fix_and_a_replay(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Meta sends a status with an ISO 8601 time one day; the message beside it is stored.
    now = int(time.time())
    payload = inbound(KERRY, "hello", now)
    iso = iso_status("wamid.OUT1", "2025-11-21T04:46:40+00:00")
    payload["entry"][0]["changes"].append(iso["entry"][0]["changes"][0])
    pipeline.deliver(payload)
    digest = sha256(payload)

    code, out, _ = wactl(capsys, "raw", "list")
    (row,) = [line for line in out.splitlines() if digest in line]
    assert row.endswith("webhook: 1 message (text), 1 status (read) [1 part untyped]")
    code, out, _ = wactl(capsys, "raw", "show", digest)
    assert code == 0
    assert "entry[0].changes[1].value.statuses[0]  status  timestamp: Input should be a valid integer" in out
    assert out.splitlines()[-1] == f"After a fix: wactl raw replay {digest}"
    code, out, _ = wactl(capsys, "raw", "show", digest, "--json")
    (part,) = json.loads(out)["untyped"]
    assert json.loads(part["raw"])["timestamp"] == "2025-11-21T04:46:40+00:00"

    # The fix: the models learn ISO 8601 times. A replay stores the status, and the untyped part
    # it was is gone.
    monkeypatch.setattr(wacloud.processor.updates, "read_payload", reading_iso_times)
    code, _, _ = wactl(capsys, "raw", "replay", digest)
    assert code == 0
    assert pipeline.process() == 1
    items = {(item["pk"], item["sk"]): item for item in table_items(stack)}
    assert items[("MSG#wamid.OUT1", "MESSAGE")]["status_at"] == 1763700400
    assert [key for key in items if key[0] == f"RAW#{digest}"] == [(f"RAW#{digest}", "RAW")]
    assert "untyped" not in items[(f"RAW#{digest}", "RAW")]


def reading_iso_times(body: bytes | str) -> ReadPayload:
    """The models after the fix: status times in ISO 8601 are read as epoch seconds."""
    data = json.loads(body)
    for entry in data["entry"]:
        for change in entry["changes"]:
            for update in change["value"].get("statuses", []):
                if "T" in str(update["timestamp"]):
                    update["timestamp"] = str(int(datetime.fromisoformat(update["timestamp"]).timestamp()))
    return read_payload(json.dumps(data))


def test_show_says_why_a_payload_was_rejected_and_what_failed_last(
    stack: LocalStack, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.post(b"this is not json")
    pipeline.process()
    digest = hashlib.sha256(b"this is not json").hexdigest()

    code, out, _ = wactl(capsys, "raw", "list")
    (row,) = [line for line in out.splitlines() if digest in line]
    reason = "not JSON: Expecting value at line 1 column 1"
    assert row.endswith(f"not JSON: 'this is not json' [rejected: {reason}]")
    code, out, _ = wactl(capsys, "raw", "show", digest)
    assert f"Rejected: {reason} (not retried)" in out
    code, _, err = wactl(capsys, "raw", "show", "0" * 64)
    assert (code, "no payload 0000" in err) == (1, True)
