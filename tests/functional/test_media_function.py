"""The media function through its real entry point: an EventBridge ``WhatsApp Message Received``
event, cold-started from template.yaml against the emulated stack (moto), downloading from the
Graph API simulator's media endpoints."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from wacloud.media.keeper import MediaDownloadError
from wacloud.meta.inbound_media import sha256_matches
from wacloud.table.keys import contact_pk, inbound_sk
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_ACCESS_TOKEN
from walocal.simulator import GraphApiSimulator, SimulatorConfig

WA_ID = "16505551234"


@pytest.fixture
def simulator() -> Iterator[GraphApiSimulator]:
    # No webhook is sent: the media is put in the simulator as a contact's phone would.
    config = SimulatorConfig(
        port=0, access_token=LOCAL_ACCESS_TOKEN, webhook_url="http://127.0.0.1:9/webhook"
    )
    with GraphApiSimulator(config) as running:
        yield running


@pytest.fixture
def media_function(
    load_function: Callable[..., LocalFunction], simulator: GraphApiSimulator
) -> LocalFunction:
    return load_function("MediaFunction", GRAPH_API_URL=simulator.url, MEDIA_BACKOFF_BASE_SECONDS="0.001")


def received(stack: LocalStack, simulator: GraphApiSimulator, data: bytes, **media: Any) -> dict[str, Any]:
    """A contact's image: kept by the simulator, its message stored as the processor stores it,
    and the event the publisher makes of it."""
    kept = simulator.media.add(data, "image/jpeg", "inbound", fault=media.pop("fault", None))
    event = copy.deepcopy(load_event("eventbridge/message_received_image.json"))
    detail = event["detail"]
    detail["wamid"] = f"wamid.TEST{kept.id}"
    detail["message"]["id"] = detail["wamid"]
    detail["message"]["image"] = {"id": kept.id, "mime_type": "image/jpeg", "sha256": kept.sha256_base64}
    stack_table(stack).put_item(
        Item={
            "pk": contact_pk(WA_ID),
            "sk": inbound_sk(detail["timestamp"], detail["wamid"]),
            "type": "image",
            "raw": json.dumps(detail["message"]),
        }
    )
    return dict(event)


def stack_table(stack: LocalStack) -> Any:
    return boto3.resource("dynamodb").Table(stack.output("MessagesTableName"))


def media_of(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any] | None:
    detail = event["detail"]
    item = stack_table(stack).get_item(
        Key={"pk": contact_pk(WA_ID), "sk": inbound_sk(detail["timestamp"], detail["wamid"])}
    )["Item"]
    media = item.get("media")
    return dict(media) if media is not None else None


def test_the_media_is_kept_under_its_hash_recorded_on_the_message_and_downloaded_once(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    data = b"\xff\xd8" + bytes(range(256)) * 100 + b"\xff\xd9"
    digest = hashlib.sha256(data).hexdigest()
    event = received(stack, simulator, data)
    answer = media_function.invoke(event)
    bucket = stack.output("PayloadBucketName")
    assert answer == {"result": "stored", "s3_uri": f"s3://{bucket}/media/{digest}"}
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=f"media/{digest}")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Metadata"] == {
        "wamid": event["detail"]["wamid"],
        "media-id": event["detail"]["message"]["image"]["id"],
        "sha256": digest,
    }
    media = media_of(stack, event)
    assert media is not None
    assert {k: v for k, v in media.items() if k != "at"} == {
        "state": "stored",
        "kind": "image",
        "media_id": event["detail"]["message"]["image"]["id"],
        "bucket": bucket,
        "key": f"media/{digest}",
        "size": len(data),
        "mime_type": "image/jpeg",
        "sha256": digest,
    }
    # Lambda may deliver the event again: nothing is downloaded twice.
    assert media_function.invoke(event) == {"result": "already_stored", "s3_uri": None}
    assert [m["downloads"] for m in simulator.media.listing()] == [1]


def test_the_same_content_in_two_messages_is_one_object(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    data = b"\xff\xd8 the same photo, forwarded \xff\xd9"
    first, second = received(stack, simulator, data), received(stack, simulator, data)
    assert media_function.invoke(first)["s3_uri"] == media_function.invoke(second)["s3_uri"]
    objects = boto3.client("s3").list_objects_v2(Bucket=stack.output("PayloadBucketName"), Prefix="media/")
    assert [o["Key"] for o in objects["Contents"]] == [f"media/{hashlib.sha256(data).hexdigest()}"]
    assert media_of(stack, second) is not None
    # Meta's sha256 named the object kept before: the second was not even downloaded.
    assert [m["downloads"] for m in simulator.media.listing()] == [1, 0]


def test_a_record_a_redelivered_webhook_dropped_is_put_back_without_a_download(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    event = received(stack, simulator, b"\xff\xd8 kept, then dropped \xff\xd9")
    assert media_function.invoke(event)["result"] == "stored"
    recorded = media_of(stack, event)
    assert recorded is not None
    detail = event["detail"]
    stored_event = copy.deepcopy(load_event("eventbridge/media_stored_image.json"))
    stored_event["detail"].update(
        wamid=detail["wamid"],
        timestamp=detail["timestamp"],
        media_id=recorded["media_id"],
        s3={"bucket": recorded["bucket"], "key": recorded["key"], "uri": "s3://..."},
        size=int(recorded["size"]),
        sha256=recorded["sha256"],
    )
    # The event of the record's own write: the record is in place.
    assert media_function.invoke(stored_event) == {"result": "recorded", "s3_uri": None}
    # The processor puts the message again (Meta redelivered its webhook): the record is gone.
    key = {"pk": contact_pk(WA_ID), "sk": inbound_sk(detail["timestamp"], detail["wamid"])}
    stack_table(stack).update_item(Key=key, UpdateExpression="REMOVE media")
    answer = media_function.invoke(stored_event)
    assert answer["result"] == "restored"
    restored = media_of(stack, event)
    assert restored is not None
    assert {k: v for k, v in restored.items() if k != "at"} == {
        k: v for k, v in recorded.items() if k != "at"
    }
    assert [m["downloads"] for m in simulator.media.listing()] == [1]


def test_an_expired_download_url_is_replaced_by_a_fresh_one(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    event = received(stack, simulator, b"\xff\xd8expired first\xff\xd9", fault="expired_url")
    assert media_function.invoke(event)["result"] == "stored"
    [listed] = simulator.media.listing()
    assert (listed["urls_issued"], listed["downloads"]) == (2, 1)


def test_a_server_error_is_tried_again_with_backoff(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    event = received(stack, simulator, b"\xff\xd8 meta hiccups \xff\xd9", fault="server_error")
    assert media_function.invoke(event)["result"] == "stored"
    [listed] = simulator.media.listing()
    assert (listed["lookups"], listed["urls_issued"], listed["downloads"]) == (2, 1, 1)


def test_a_media_meta_no_longer_has_is_recorded_unavailable_without_retrying(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    event = received(stack, simulator, b"\xff\xd8gone\xff\xd9", fault="gone")
    assert media_function.invoke(event) == {"result": "unavailable", "s3_uri": None}
    media = media_of(stack, event)
    assert media is not None
    assert media["state"] == "unavailable"
    assert "no longer has media" in media["reason"]
    assert "bucket" not in media


def test_bytes_that_do_not_match_metas_sha256_fail_the_invocation_after_retries(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    event = received(stack, simulator, b"\xff\xd8corrupt in transit\xff\xd9", fault="wrong_sha256")
    with pytest.raises(MediaDownloadError, match="sha256 does not match"):
        media_function.invoke(event)
    [listed] = simulator.media.listing()
    assert listed["downloads"] == 4  # MEDIA_DOWNLOAD_ATTEMPTS' default
    assert media_of(stack, event) is None
    objects = boto3.client("s3").list_objects_v2(Bucket=stack.output("PayloadBucketName"), Prefix="media/")
    assert objects["KeyCount"] == 0


def test_a_media_larger_than_meta_allows_is_not_downloaded_and_fails_the_invocation(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    event = received(stack, simulator, b"\xff\xd8 says it is huge \xff\xd9", fault="oversize")
    with pytest.raises(MediaDownloadError, match="over 104857600"):
        media_function.invoke(event)
    [listed] = simulator.media.listing()
    assert (listed["urls_issued"], listed["downloads"]) == (4, 0)
    assert media_of(stack, event) is None


def test_a_refused_token_fails_the_invocation_without_naming_the_token(
    stack: LocalStack, simulator: GraphApiSimulator, load_function: Callable[..., LocalFunction]
) -> None:
    expired = GraphApiSimulator(
        SimulatorConfig(
            port=0,
            access_token=LOCAL_ACCESS_TOKEN,
            expired_tokens=frozenset({LOCAL_ACCESS_TOKEN}),
            webhook_url="http://127.0.0.1:9/webhook",
        )
    )
    with expired:
        function = load_function(
            "MediaFunction", GRAPH_API_URL=expired.url, MEDIA_BACKOFF_BASE_SECONDS="0.001"
        )
        event = received(stack, expired, b"\xff\xd8token\xff\xd9")
        with pytest.raises(MediaDownloadError, match=r"refused the access token \(190\)") as raised:
            function.invoke(event)
    assert LOCAL_ACCESS_TOKEN not in str(raised.value)
    assert media_of(stack, event) is None


def test_a_message_without_media_is_left_alone(
    stack: LocalStack, simulator: GraphApiSimulator, media_function: LocalFunction
) -> None:
    event = load_event("eventbridge/message_received_text.json")
    assert media_function.invoke(event) == {"result": "no_media", "s3_uri": None}
    assert simulator.media.listing() == []


def test_the_sha256_may_be_base64_or_hex() -> None:
    data = b"bytes"
    digest = hashlib.sha256(data)
    assert sha256_matches(digest.hexdigest(), data)
    assert sha256_matches(base64.b64encode(digest.digest()).decode(), data)
    assert not sha256_matches(hashlib.sha256(b"other").hexdigest(), data)
    assert not sha256_matches("not a hash", data)
