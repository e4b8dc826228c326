"""The sender's media from the stack's bucket (``s3_uri``), through its real entry point against
the Graph API simulator: uploaded once per content, sent by id, checked before any upload."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests

from support.sender_events import TO, sender_to, simulated_meta
from wacloud.table.media import MEDIA_UPLOAD_SK, media_upload_pk
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_ACCESS_TOKEN
from walocal.simulator import GraphApiSimulator

PHOTO = b"\xff\xd8 a photo to send \xff\xd9" * 50


@pytest.fixture
def simulator() -> Iterator[GraphApiSimulator]:
    with simulated_meta() as running:
        yield running


@pytest.fixture
def sender(
    load_function: Callable[..., LocalFunction], simulator: GraphApiSimulator, stack: LocalStack
) -> LocalFunction:
    return sender_to(load_function, simulator, stack)


def put(stack: LocalStack, key: str, data: bytes, content_type: str) -> str:
    bucket = stack.output("PayloadBucketName")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    return f"s3://{bucket}/{key}"


def image(uri: str, **fields: Any) -> dict[str, Any]:
    return {"to": TO, "type": "image", "image": {"s3_uri": uri, **fields}}


def test_the_same_content_is_uploaded_once_and_sent_by_its_id(
    sender: LocalFunction, simulator: GraphApiSimulator, stack: LocalStack
) -> None:
    first = put(stack, "outbound/menu.jpg", PHOTO, "image/jpeg")
    again = put(stack, "outbound/menu-copy.jpg", PHOTO, "image/jpeg")
    answers = [sender.invoke(image(first, caption="Menu")), sender.invoke(image(again))]
    assert [a["results"][0]["status"] for a in answers] == ["accepted", "accepted"]
    [upload] = simulator.media.listing("upload")
    assert upload["file_size"] == len(PHOTO)
    assert upload["mime_type"] == "image/jpeg"
    bodies = [m["body"]["image"] for m in simulator.snapshot()["messages"]]
    assert bodies == [{"id": upload["id"], "caption": "Menu"}, {"id": upload["id"]}]


def test_an_upload_meta_no_longer_keeps_is_made_again(
    sender: LocalFunction, simulator: GraphApiSimulator, stack: LocalStack
) -> None:
    uri = put(stack, "outbound/menu.jpg", PHOTO, "image/jpeg")
    sender.invoke(image(uri))
    [upload] = simulator.media.listing("upload")
    table = boto3.resource("dynamodb").Table(stack.output("MessagesTableName"))
    key = {"pk": media_upload_pk(upload["sha256"]), "sk": MEDIA_UPLOAD_SK}
    table.update_item(
        Key=key, UpdateExpression="SET usable_until = :past", ExpressionAttributeValues={":past": 1}
    )
    assert sender.invoke(image(uri))["results"][0]["status"] == "accepted"
    assert len(simulator.media.listing("upload")) == 2


@pytest.mark.parametrize(
    ("where", "title"),
    [
        ("s3://someone-elses-bucket/outbound/menu.jpg", "Media not in the stack's bucket"),
        ("OURS/spilled/menu.jpg", "Media not in the stack's bucket"),
        ("OURS/outbound/missing.jpg", "Media not found"),
    ],
)
def test_a_media_not_sendable_from_the_bucket_fails_clearly(
    sender: LocalFunction, simulator: GraphApiSimulator, stack: LocalStack, where: str, title: str
) -> None:
    uri = where.replace("OURS", f"s3://{stack.output('PayloadBucketName')}")
    [result] = sender.invoke(image(uri))["results"]
    assert result["status"] == "failed"
    assert result["error"]["title"] == title
    assert result["error"]["retryable"] is False
    assert simulator.media.listing() == []
    assert simulator.snapshot()["messages"] == []


def test_a_sticker_over_metas_limit_is_refused_before_any_upload(
    sender: LocalFunction, simulator: GraphApiSimulator, stack: LocalStack
) -> None:
    uri = put(stack, "outbound/big.webp", b"RIFF" + b"\0" * (500 * 1024), "image/webp")
    [result] = sender.invoke({"to": TO, "type": "sticker", "sticker": {"s3_uri": uri}})["results"]
    assert result["error"]["title"] == "Media refused by Meta's limits"
    assert "sticker media may be at most 512000 bytes" in result["error"]["message"]
    assert simulator.media.listing() == []


def test_an_upload_with_a_refused_token_is_kept_for_a_later_retry(
    sender: LocalFunction, simulator: GraphApiSimulator, stack: LocalStack
) -> None:
    uri = put(stack, "outbound/menu.jpg", PHOTO, "image/jpeg")
    requests.put(
        f"{simulator.url}/_simulator/chaos", json={"expired_tokens": [LOCAL_ACCESS_TOKEN]}, timeout=5
    )
    [result] = sender.invoke(image(uri))["results"]
    assert result["status"] == "failed"
    assert (result["error"]["code"], result["error"]["title"]) == (190, "Access token rejected")
    assert result["error"]["retryable"] is True
    assert simulator.media.listing() == []
