"""Lambda's filter patterns on stream records, as the emulator applies them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from walocal.filters import FilterError, keeps, parse_filters

RECORD: dict[str, Any] = {
    "eventName": "MODIFY",
    "dynamodb": {
        "Keys": {"pk": {"S": "MSG#wamid.1"}, "sk": {"S": "MESSAGE"}},
        "NewImage": {"status": {"S": "read"}, "tags": {"SS": ["a", "b"]}},
    },
}


def patterns(*raw: dict[str, Any]) -> list[dict[str, Any]]:
    return parse_filters([{"Pattern": json.dumps(pattern)} for pattern in raw])


@pytest.mark.parametrize(
    ("pattern", "kept"),
    [
        ({"eventName": ["MODIFY"]}, True),
        ({"eventName": ["INSERT", "REMOVE"]}, False),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "MSG#"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "CONTACT#"}]}}}}, False),
        ({"dynamodb": {"Keys": {"sk": {"S": [{"suffix": "AGE"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["sent", "delivered"]}]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": {"prefix": "re"}}]}}}}, False),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"equals-ignore-case": "READ"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": [{"exists": True}]}}}, True),
        ({"dynamodb": {"OldImage": [{"exists": False}]}}, True),
        ({"dynamodb": {"OldImage": [{"exists": True}]}}, False),
        ({"dynamodb": {"NewImage": {"tags": {"SS": ["b"]}}}}, True),  # one value of a list is enough
        ({"eventName": ["MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["STATUS"]}}}}, False),  # all keys
    ],
)
def test_a_pattern_keeps_what_lambda_keeps(pattern: dict[str, Any], kept: bool) -> None:
    assert keeps(patterns(pattern), RECORD) is kept


def test_any_filter_is_enough_and_none_keeps_everything() -> None:
    assert keeps(patterns({"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}), RECORD)
    assert keeps([], RECORD)


@pytest.mark.parametrize(
    "raw",
    [
        {"Pattern": '{"eventName": [{"numeric": [">", 0]}]}'},
        {"Pattern": '{"eventName": "MODIFY"}'},
        {"Pattern": "not json"},
        {"Pattern": "{}"},
    ],
)
def test_a_pattern_the_emulator_cannot_apply_exactly_is_refused(raw: dict[str, str]) -> None:
    with pytest.raises(FilterError):
        parse_filters([raw])
