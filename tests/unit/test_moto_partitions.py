"""The emulator's partition-scoped queries answer exactly what DynamoDB (and moto) answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from walocal import moto_partitions

moto_partitions.install()


@pytest.fixture
def table(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        resource = boto3.resource("dynamodb", region_name="us-east-1").Table("t")
        with resource.batch_writer() as batch:
            # Partitions written interleaved and sort keys out of order, so that only sorting
            # could put them in order.
            for n in (7, 3, 9, 1, 5, 8, 2, 6, 4, 0):
                for contact in ("b", "a", "c"):
                    item = {"pk": f"CONTACT#{contact}", "sk": f"MSG#{n:02d}", "n": n}
                    if n % 2 == 0:
                        item |= {"gsi1pk": "EVEN", "gsi1sk": f"{contact}#{n:02d}"}
                    batch.put_item(Item=item)
        yield resource


def _keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["pk"], item["sk"]) for item in items]


def test_a_query_returns_its_partition_in_key_order_both_ways(table: Any) -> None:
    forward = table.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "CONTACT#a"})
    assert _keys(forward["Items"]) == [("CONTACT#a", f"MSG#{n:02d}") for n in range(10)]
    backward = table.query(
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues={":p": "CONTACT#c", ":s": "MSG#0"},
        ScanIndexForward=False,
    )
    assert _keys(backward["Items"]) == [("CONTACT#c", f"MSG#{n:02d}") for n in range(9, -1, -1)]


def test_pages_of_a_partition_join_up_and_an_unknown_partition_is_empty(table: Any) -> None:
    seen: list[tuple[str, str]] = []
    request: dict[str, Any] = {
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": "CONTACT#b"},
        "Limit": 3,
    }
    while True:
        page = table.query(**request)
        seen += _keys(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == [("CONTACT#b", f"MSG#{n:02d}") for n in range(10)]
    assert (
        table.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "nobody"})["Items"]
        == []
    )


def test_index_queries_and_scans_still_see_every_partition(table: Any) -> None:
    even = table.query(
        IndexName="gsi1", KeyConditionExpression="gsi1pk = :e", ExpressionAttributeValues={":e": "EVEN"}
    )
    assert [item["gsi1sk"] for item in even["Items"]] == [
        f"{contact}#{n:02d}" for contact in "abc" for n in range(0, 10, 2)
    ]
    assert len(table.scan()["Items"]) == 30
