"""``wactl forget``: a contact erased from the table and the bucket, and nobody else touched."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from support.aws import REGION, table_items
from support.pipeline import KERRY, Pipeline, deploy_outputs, inbound, messages_value, status, wactl
from wacloud.table.erasure import mentions
from wacloud.table.media import MediaLedger, MediaRecord, media_key
from walocal.functions import LocalFunction
from walocal.provision import LocalStack

JO = "16505559876"
KERRYS_PICTURE = b"\xff\xd8 a picture only Kerry sent"
SHARED_PICTURE = b"\xff\xd8 a picture Kerry and Jo both sent"


def objects(stack: LocalStack) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.bucket_names["PayloadBucket"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def keys(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["pk"], item["sk"]) for item in items}


def names(item: dict[str, Any], wa_id: str) -> bool:
    return any(mentions(value, wa_id) or mentions(str(value), wa_id) for value in item.values())


@pytest.fixture
def contacts(stack: LocalStack, load_function: Callable[[str], LocalFunction], sender: LocalFunction) -> None:
    """Kerry and Jo wrote and were written to; Kerry also in a batch with Jo, a large payload, an
    untyped part, a failed send, an idempotent send and a number change to a new number."""
    deploy_outputs(stack)
    pipeline = Pipeline(stack, load_function)
    now = int(time.time())
    pipeline.deliver(
        inbound(KERRY, "START", now - 300),
        inbound(KERRY, "hello", now - 200),
        inbound(JO, "hi there", now - 190, name="Jo"),
    )
    wamid = sender.invoke(
        {"to": KERRY, "type": "text", "text": {"body": "hi Kerry"}, "idempotency_key": "k-1"}
    )["results"][0]["message_id"]
    jo_wamid = sender.invoke({"to": JO, "type": "text", "text": {"body": "hi Jo"}})["results"][0][
        "message_id"
    ]
    pipeline.deliver(
        status(wamid, "sent", now - 100, category="service"),
        status(wamid, "read", now - 90),
        status(jo_wamid, "delivered", now - 95),
    )
    # A message whose location Meta sent in a shape the models refuse: kept as an untyped part.
    odd = {
        "from": KERRY,
        "id": "wamid.ODD",
        "timestamp": str(now - 80),
        "type": "location",
        "location": {"latitude": "north"},
    }
    pipeline.deliver(
        messages_value(contacts=[{"profile": {"name": "Kerry"}, "wa_id": KERRY}], messages=[odd])
    )
    # 60 messages in one POST of 1.2 MB: the webhook puts it in the bucket, the processor archives it.
    big = [
        {
            "from": KERRY,
            "id": f"wamid.BIG{n}",
            "timestamp": str(now - 70),
            "type": "text",
            "text": {"body": "x" * 20_000},
        }
        for n in range(60)
    ]
    pipeline.deliver(messages_value(contacts=[{"profile": {"name": "Kerry"}, "wa_id": KERRY}], messages=big))
    # Jo changed number from Kerry's old one? No: Jo's old number was 16505550000; Kerry's new one is below.
    notice = {
        "from": "16505550000",
        "id": "wamid.MOVE",
        "timestamp": str(now - 60),
        "type": "system",
        "system": {"body": "changed", "type": "user_changed_number", "new_wa_id": KERRY, "wa_id": KERRY},
    }
    pipeline.deliver(messages_value(messages=[notice]))
    refused = sender.invoke(
        {"to": KERRY, "type": "template", "template": {"name": "no_such", "language": {"code": "en"}}}
    )
    assert refused["results"][0]["status"] in ("failed", "accepted")
    # Pictures they sent, kept in the bucket: one only Kerry sent, one Jo sent as well (one object).
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.bucket_names["PayloadBucket"]
    media = MediaLedger(
        boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    )
    for wa_id, at, content in (
        (KERRY, now - 50, KERRYS_PICTURE),
        (KERRY, now - 49, SHARED_PICTURE),
        (JO, now - 48, SHARED_PICTURE),
    ):
        wamid, digest = f"wamid.IMG-{wa_id}-{at}", hashlib.sha256(content).hexdigest()
        image = {"id": f"media-{at}", "mime_type": "image/jpeg", "sha256": digest}
        pipeline.deliver(
            messages_value(
                contacts=[{"profile": {"name": "Kerry" if wa_id == KERRY else "Jo"}, "wa_id": wa_id}],
                messages=[
                    {"from": wa_id, "id": wamid, "timestamp": str(at), "type": "image", "image": image}
                ],
            )
        )
        s3.put_object(Bucket=bucket, Key=media_key(digest), Body=content, ContentType="image/jpeg")
        record = MediaRecord(
            "stored",
            "image",
            f"media-{at}",
            at,
            bucket,
            media_key(digest),
            len(content),
            "image/jpeg",
            digest,
        )
        assert media.record(wa_id, at, wamid, record)


def test_forget_removes_every_item_and_object_of_the_contact_and_nothing_else(
    contacts: None, stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    before, stored = table_items(stack), objects(stack)
    assert any(key.startswith("inbound/") for key in stored), sorted(stored)
    theirs = {
        key for key in keys(before) if names(next(i for i in before if (i["pk"], i["sk"]) == key), KERRY)
    }
    assert ("CONTACT#" + KERRY, "PROFILE") in theirs

    code, out, err = wactl(capsys, "forget", KERRY, "--json")
    assert code == 0, err
    document = json.loads(out)
    removed = {(item["pk"], item["sk"]) for item in document["items"]}

    after = table_items(stack)
    assert keys(before) - keys(after) == removed
    assert not [item for item in after if names(item, KERRY)]
    assert theirs - {(p, "PROFILE") for p in document["unlinked_profiles"]} <= removed
    # Jo's messages, Jo's message's statuses, the number that moved to Kerry: all still there.
    assert ("CONTACT#" + JO, next(sk for pk, sk in keys(before) if pk == "CONTACT#" + JO)) in keys(after)
    assert document["unlinked_profiles"] == ["CONTACT#16505550000"]
    left = objects(stack)
    assert not [key for key, body in left.items() if mentions(body.decode(errors="replace"), KERRY)]
    assert set(stored) - set(left) == set(document["objects"])
    [tombstone] = [item for item in after if item["pk"].startswith("FORGOTTEN#")]
    assert tombstone["state"] == "erased"
    assert not names(tombstone, KERRY)

    # The picture only Kerry sent is gone; the one Jo sent too stays, for Jo's message.
    assert media_key(hashlib.sha256(KERRYS_PICTURE).hexdigest()) in document["objects"]
    assert media_key(hashlib.sha256(SHARED_PICTURE).hexdigest()) in left

    code, out, _ = wactl(capsys, "forget", KERRY)
    assert code == 0
    assert "Nothing of 16505551234 is stored" in out
    assert table_items(stack) == after


def test_a_dry_run_lists_and_removes_nothing(
    contacts: None, stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    before = table_items(stack)
    code, out, _ = wactl(capsys, "forget", "+" + KERRY, "--dry-run")
    assert code == 0
    assert out.startswith(f"Would remove from stack whatsapp-cloud ({REGION}), of {KERRY}:")
    assert "profile" in out
    assert "CONTACT#16505551234" in out
    assert table_items(stack) == before


def test_an_unknown_contact_is_a_clear_message(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    deploy_outputs(stack)
    code, out, err = wactl(capsys, "forget", "16505550001")
    assert (code, err) == (0, "")
    where = f"stack whatsapp-cloud ({REGION})"
    assert out.strip() == f"Nothing of 16505550001 is stored in {where}: already forgotten, or never seen."
    code, _, err = wactl(capsys, "forget", "not a number!")
    assert code == 2
    assert "expected a wa_id" in err
