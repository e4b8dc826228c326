"""Media through the local runtime over HTTP: a contact's image and document end up in the bucket
byte for byte, recorded on their messages and announced; each download fault ends where it should."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from support.local_runtime import TABLE, RunningRuntime, eventually, local_runtime
from wacloud.table.keys import contact_pk
from walocal.provision import STACK_NAME
from walocal.runtime import LOCAL_ACCESS_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("media")]
BUCKET_PREFIX = "media/"
WACTL = [sys.executable, "-m", "wactl"]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log") as running:
        yield running


@pytest.fixture(scope="module")
def subscriber(runtime: RunningRuntime) -> str:
    sqs, events = runtime.client("sqs"), runtime.client("events")
    url = str(sqs.create_queue(QueueName="media-subscriber")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = f"{STACK_NAME}-events"
    events.put_rule(
        Name="media-subscriber", EventBusName=bus, EventPattern=json.dumps({"source": ["whatsapp.cloud"]})
    )
    events.put_targets(Rule="media-subscriber", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def contact_sends(runtime: RunningRuntime, sender: str, kind: str, **media: Any) -> str:
    """The simulator plays ``sender`` sending a ``kind`` media; the message's wamid."""
    body: dict[str, Any] = {"from": sender, "type": kind, kind: {"caption": "see"} if kind == "image" else {}}
    if media:
        body["media"] = media
    answer = requests.post(f"{runtime.graph_url}/_simulator/inbound", json=body, timeout=30).json()
    assert answer["delivered"], answer
    return str(answer["wamid"])


def message_item(runtime: RunningRuntime, wa_id: str, wamid: str) -> dict[str, Any] | None:
    items = runtime.table().query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": contact_pk(wa_id)}
    )["Items"]
    return next((item for item in items if str(item["sk"]).endswith(f"#{wamid}")), None)


def media_state(runtime: RunningRuntime, wa_id: str, wamid: str, state: str) -> dict[str, Any] | None:
    item = message_item(runtime, wa_id, wamid)
    media = item.get("media") if item else None
    return media if media and media.get("state") == state else None


def events_of(runtime: RunningRuntime, url: str, wamids: set[str], kinds: set[str]) -> list[dict[str, Any]]:
    """Collects the subscriber's events until each wamid has one of each detail type in ``kinds``."""
    sqs = runtime.client("sqs")
    found: list[dict[str, Any]] = []

    def complete() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        seen = {(e["detail"].get("wamid"), e["detail-type"]) for e in found}
        return all((wamid, kind) in seen for wamid in wamids for kind in kinds)

    eventually(complete, timeout=60)
    return [e for e in found if e["detail"].get("wamid") in wamids]


def test_a_contacts_image_and_document_are_kept_in_the_bucket_byte_for_byte(
    runtime: RunningRuntime, subscriber: str, tmp_path: Path
) -> None:
    photo = b"\xff\xd8\xff\xfe\x00\x10a damaged box\xff\xd9" + bytes(range(256)) * 64
    invoice = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"
    sender = "16505551001"
    image_wamid = contact_sends(
        runtime, sender, "image", data_base64=base64.b64encode(photo).decode(), mime_type="image/jpeg"
    )
    document_wamid = contact_sends(
        runtime,
        sender,
        "document",
        data_base64=base64.b64encode(invoice).decode(),
        mime_type="application/pdf",
        filename="invoice.pdf",
    )
    s3 = runtime.client("s3")
    for wamid, data, mime_type in (
        (image_wamid, photo, "image/jpeg"),
        (document_wamid, invoice, "application/pdf"),
    ):
        media = eventually(partial(media_state, runtime, sender, wamid, "stored"), timeout=60)
        digest = hashlib.sha256(data).hexdigest()
        assert media["key"] == f"{BUCKET_PREFIX}{digest}"
        assert media["sha256"] == digest
        assert int(media["size"]) == len(data)
        assert media["mime_type"] == mime_type
        stored = s3.get_object(Bucket=media["bucket"], Key=media["key"])
        assert stored["Body"].read() == data
        assert stored["ContentType"] == mime_type
        assert stored["Metadata"]["wamid"] == wamid

    events = events_of(
        runtime,
        subscriber,
        {image_wamid, document_wamid},
        {"WhatsApp Message Received", "WhatsApp Media Stored"},
    )
    stored_events = {
        e["detail"]["wamid"]: e["detail"] for e in events if e["detail-type"] == "WhatsApp Media Stored"
    }
    image = stored_events[image_wamid]
    assert image["state"] == "stored"
    assert image["type"] == "image"
    assert image["s3"]["key"] == f"{BUCKET_PREFIX}{hashlib.sha256(photo).hexdigest()}"
    assert image["s3"]["uri"] == f"s3://{image['s3']['bucket']}/{image['s3']['key']}"
    assert stored_events[document_wamid]["size"] == len(invoice)
    # Downloaded once each, with the token: what Meta's media endpoints saw.
    listed = requests.get(f"{runtime.graph_url}/_simulator/media?origin=inbound", timeout=10).json()["media"]
    downloads = {m["sha256"]: m["downloads"] for m in listed}
    assert downloads[hashlib.sha256(photo).hexdigest()] == 1
    assert downloads[hashlib.sha256(invoice).hexdigest()] == 1

    # The operator's view: the conversation shows where each media is, and wactl fetches it.
    done = wactl(runtime, "conversation", sender)
    assert done.returncode == 0, done.stderr
    listed_media = {m["wamid"]: m["media"] for m in json.loads(done.stdout)["messages"]}
    assert listed_media[image_wamid]["s3_uri"] == image["s3"]["uri"]
    text = subprocess.run(
        [*WACTL, "conversation", sender, "--local", "--endpoint-url", runtime.aws_url],
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert image["s3"]["uri"] in text
    copy = tmp_path / "copy.pdf"
    done = wactl(runtime, "media", "get", document_wamid, "-o", str(copy))
    assert done.returncode == 0, done.stderr
    assert copy.read_bytes() == invoice


def test_download_faults_end_where_they_should(runtime: RunningRuntime) -> None:
    sender = "16505551002"
    expired = contact_sends(runtime, sender, "image", fault="expired_url")
    gone = contact_sends(runtime, sender, "audio", fault="gone")
    corrupt = contact_sends(runtime, sender, "document", fault="wrong_sha256")

    # An expired URL: a fresh one is asked for, and the media is kept.
    assert eventually(lambda: media_state(runtime, sender, expired, "stored"), timeout=60)
    # Meta no longer has it: recorded as unavailable, not retried.
    unavailable = eventually(lambda: media_state(runtime, sender, gone, "unavailable"), timeout=60)
    assert "no longer has" in unavailable["reason"]
    # Bytes that do not match Meta's sha256: retried, then set aside with the reason; the message
    # itself is stored all along, without a media record.
    sqs = runtime.client("sqs")
    dead_letters = next(u for u in sqs.list_queues()["QueueUrls"] if "MediaDeadLetterQueue" in u)

    def dead_lettered() -> dict[str, Any] | None:
        for message in sqs.receive_message(
            QueueUrl=dead_letters, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            record = json.loads(message["Body"])
            if record["requestPayload"]["detail"]["wamid"] == corrupt:
                return dict(record)
        return None

    record = eventually(dead_lettered, timeout=90)
    assert "sha256 does not match" in record["responsePayload"]["errorMessage"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    item = message_item(runtime, sender, corrupt)
    assert item is not None
    assert item["type"] == "document"
    assert "media" not in item
    media = {
        m["id"]: m for m in requests.get(f"{runtime.graph_url}/_simulator/media", timeout=10).json()["media"]
    }
    corrupt_id = json.loads(item["raw"])["document"]["id"]
    # Three invocations (Lambda's two retries), each trying a few times with backoff.
    assert media[corrupt_id]["downloads"] >= 3


def wactl(runtime: RunningRuntime, *argv: str) -> subprocess.CompletedProcess[str]:
    return runtime.wactl(*argv, "--json", timeout=120)


def test_wactl_sends_a_local_image_uploaded_once_for_two_sends_by_its_media_id(
    runtime: RunningRuntime, tmp_path: Path
) -> None:
    contact = "16505551003"
    # The contact writes first: free-form messages need the 24-hour window open.
    wamid = requests.post(
        f"{runtime.graph_url}/_simulator/inbound",
        json={"from": contact, "text": {"body": "Send me the menu"}},
        timeout=30,
    ).json()["wamid"]
    eventually(lambda: message_item(runtime, contact, wamid), timeout=30)
    photo = tmp_path / "menu.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xfe\x00\x06menu\xff\xd9" + bytes(range(256)) * 32)
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()

    answers = []
    for _ in range(2):
        done = wactl(runtime, "send", "--to", contact, "--image", str(photo), "--caption", "Today's menu")
        assert done.returncode == 0, done.stdout + done.stderr
        answers.append(json.loads(done.stdout))
    assert [a["results"][0]["status"] for a in answers] == ["accepted", "accepted"]

    uploads = requests.get(f"{runtime.graph_url}/_simulator/media?origin=upload", timeout=10).json()["media"]
    [upload] = [m for m in uploads if m["sha256"] == digest]
    sent = requests.get(f"{runtime.graph_url}/_simulator/messages", params={"to": contact}, timeout=10).json()
    images = [m["body"]["image"] for m in sent["messages"] if m["type"] == "image"]
    assert images == [{"id": upload["id"], "caption": "Today's menu"}] * 2
    # The file went through the stack's bucket, under its content's hash.
    assert answers[0]["request"]["image"]["s3_uri"].endswith(f"/outbound/{digest}")


def test_an_s3_object_meta_would_refuse_fails_clearly_before_any_upload(runtime: RunningRuntime) -> None:
    contact = "16505551004"
    wamid = requests.post(
        f"{runtime.graph_url}/_simulator/inbound", json={"from": contact, "text": {"body": "hi"}}, timeout=30
    ).json()["wamid"]
    eventually(lambda: message_item(runtime, contact, wamid), timeout=30)
    bucket = next(
        b["Name"] for b in runtime.client("s3").list_buckets()["Buckets"] if "payloadbucket" in b["Name"]
    )
    too_big, gif = "outbound/too-big", "outbound/animation"
    runtime.client("s3").put_object(
        Bucket=bucket, Key=too_big, Body=b"\xff" * (5 * 1024 * 1024 + 1), ContentType="image/jpeg"
    )
    runtime.client("s3").put_object(Bucket=bucket, Key=gif, Body=b"GIF89a", ContentType="image/gif")
    before = requests.get(f"{runtime.graph_url}/_simulator/media?origin=upload", timeout=10).json()["media"]
    for key, problem in ((too_big, "at most 5242880 bytes"), (gif, "not image/gif")):
        request = {"to": contact, "type": "image", "image": {"s3_uri": f"s3://{bucket}/{key}"}}
        [result] = runtime.invoke(request).json()["results"]
        assert result["status"] == "failed"
        assert result["error"]["title"] == "Media refused by Meta's limits"
        assert problem in result["error"]["message"]
        assert result["error"]["retryable"] is False
    after = requests.get(f"{runtime.graph_url}/_simulator/media?origin=upload", timeout=10).json()["media"]
    assert after == before


def test_a_redelivered_webhook_keeps_the_media_record_without_a_second_download(
    runtime: RunningRuntime, subscriber: str
) -> None:
    sender = "16505551005"
    wamid = contact_sends(runtime, sender, "image")
    eventually(partial(media_state, runtime, sender, wamid, "stored"), timeout=60)
    item = message_item(runtime, sender, wamid)
    assert item is not None
    # Meta delivers the same webhook again: the processor puts the message again, as sent.
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": item["display_phone_number"],
            "phone_number_id": item["phone_number_id"],
        },
        "contacts": [{"profile": {"name": item["name"]}, "wa_id": sender}],
        "messages": [json.loads(item["raw"])],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": item["entry_id"], "changes": [{"field": "messages", "value": value}]}],
    }
    assert runtime.post_webhook(json.dumps(payload).encode()).status_code == 200
    events = events_of(runtime, subscriber, {wamid}, {"WhatsApp Media Stored"})

    def said_again() -> list[dict[str, Any]] | None:
        events.extend(e for e in events_of(runtime, subscriber, {wamid}, set()) if e not in events)
        stored = [e for e in events if e["detail-type"] == "WhatsApp Media Stored"]
        return stored if len(stored) >= 3 else None

    # Stored, dropped by the put, put back: the same event each time, for consumers to deduplicate.
    stored = eventually(said_again, timeout=60)
    assert len({e["detail"]["event_id"] for e in stored}) == 1
    assert eventually(partial(media_state, runtime, sender, wamid, "stored"), timeout=30)
    listed = requests.get(f"{runtime.graph_url}/_simulator/media?origin=inbound", timeout=10).json()["media"]
    media_id = json.loads(item["raw"])["image"]["id"]
    assert [m["downloads"] for m in listed if m["id"] == media_id] == [1]


def test_media_set_aside_for_a_refused_token_are_kept_by_a_retry_once_it_is_replaced(
    runtime: RunningRuntime,
) -> None:
    sender = "16505551006"
    chaos = f"{runtime.graph_url}/_simulator/chaos"
    assert requests.put(chaos, json={"expired_tokens": [LOCAL_ACCESS_TOKEN]}, timeout=10).status_code == 200
    try:
        wamid = contact_sends(runtime, sender, "image")

        def listed() -> dict[str, Any] | None:
            done = wactl(runtime, "media", "failed")
            assert done.returncode == 0, done.stderr
            assert LOCAL_ACCESS_TOKEN not in done.stdout
            return next((f for f in json.loads(done.stdout)["failed"] if f["wamid"] == wamid), None)

        failed = eventually(listed, timeout=120)
        assert "refused the access token (190)" in failed["reason"]
        assert failed["wa_id"] == sender
        assert media_state(runtime, sender, wamid, "stored") is None
    finally:
        # Meta takes the token again (as after a new one was stored in the secret).
        requests.put(chaos, json={"expired_tokens": []}, timeout=10)

    def retried() -> dict[str, Any] | None:
        done = wactl(runtime, "media", "retry")
        entry = next((e for e in json.loads(done.stdout)["retried"] if e["wamid"] == wamid), None)
        # A refused token is tried again at most every 30 s per instance: until then it fails.
        return entry if entry is not None and entry.get("result") == "stored" else None

    entry = eventually(retried, timeout=120)
    assert entry["s3_uri"].startswith("s3://")
    assert media_state(runtime, sender, wamid, "stored")
    done = wactl(runtime, "media", "failed")
    assert wamid not in done.stdout


def test_the_media_function_works_within_its_own_permissions(runtime: RunningRuntime) -> None:
    sender = "16505551007"
    wamid = contact_sends(runtime, sender, "image")
    eventually(partial(media_state, runtime, sender, wamid, "stored"), timeout=60)
    calls = requests.get(f"{runtime.aws_url}/_walocal/calls", timeout=10).json()
    made = {call["action"] for call in calls if call["function"] == "MediaFunction"}
    assert made >= {"secretsmanager:GetSecretValue", "s3:PutObject", "dynamodb:UpdateItem"}
    refused = [
        c for c in calls if c["function"] == "MediaFunction" and not (c["allowed"] and c["policy_allows"])
    ]
    assert refused == []
    # Its keys (a second key of the IAM user standing for its role) reach nothing else.
    key = runtime.client("iam").create_access_key(UserName="whatsapp-cloud-MediaFunction")["AccessKey"]
    session = boto3.Session(
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    bucket = next(
        b["Name"] for b in runtime.client("s3").list_buckets()["Buckets"] if "payloadbucket" in b["Name"]
    )
    s3 = session.client("s3", endpoint_url=runtime.aws_url)
    dynamodb = session.client("dynamodb", endpoint_url=runtime.aws_url)
    secrets = session.client("secretsmanager", endpoint_url=runtime.aws_url)
    webhook_secret = next(
        s["ARN"]
        for s in runtime.client("secretsmanager").list_secrets()["SecretList"]
        if "WebhookSecret" in s["Name"]
    )
    for denied in (
        lambda: s3.put_object(Bucket=bucket, Key="archive/x", Body=b"x"),
        lambda: s3.get_object(Bucket=bucket, Key="inbound/x"),
        lambda: dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "MSG#wamid.x"}, "sk": {"S": "MESSAGE"}},
            UpdateExpression="SET media = :m",
            ExpressionAttributeValues={":m": {"S": "x"}},
        ),
        lambda: dynamodb.put_item(
            TableName=TABLE, Item={"pk": {"S": f"CONTACT#{sender}"}, "sk": {"S": "PROFILE"}}
        ),
        lambda: secrets.get_secret_value(SecretId=webhook_secret),
    ):
        with pytest.raises(ClientError) as refused_call:
            denied()
        assert "AccessDenied" in refused_call.value.response["Error"]["Code"]
