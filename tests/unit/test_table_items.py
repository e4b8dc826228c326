"""Items within DynamoDB's limits: time keys that sort whatever time Meta sends, and attributes
too large for an item spilled to S3."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wacloud.table.keys import MAX_KEY_SECONDS, seconds_key, time_key
from wacloud.table.spill import INLINE_ITEM_BYTES, SPILL_PREFIX, item_size, spill
from wacloud.webhook.envelope import PayloadPointer


@given(st.lists(st.integers(-(10**14), 10**14), min_size=2))
def test_time_keys_sort_as_their_clamped_times(times: list[int]) -> None:
    keys = [seconds_key(value) for value in times]
    assert all(len(key) == 10 for key in keys)
    clamped = [min(max(value, 0), MAX_KEY_SECONDS) for value in times]
    assert sorted(range(len(times)), key=lambda i: (keys[i], i)) == sorted(
        range(len(times)), key=lambda i: (clamped[i], i)
    )
    assert time_key(-1, "w") == "0000000000#w"


def test_an_item_that_fits_is_kept_as_it_is() -> None:
    item = {"pk": "MSG#w", "sk": "MESSAGE", "raw": "x" * 1000, "timestamp": 1}
    assert spill(item, "bucket") == (item, [])


def test_the_largest_attributes_spill_until_the_item_fits() -> None:
    item: dict[str, Any] = {
        "pk": "MSG#w",
        "sk": "MESSAGE",
        "gsi1pk": "CONTACT#1",
        "gsi1sk": "1#w",
        "raw": "r" * 300_000,
        "text": "t" * 200_000,
        "type": "text",
        "error_codes": list(range(10)),
    }
    kept, objects = spill(item, "bucket")
    assert set(kept) == {"pk", "sk", "gsi1pk", "gsi1sk", "raw_s3", "text_s3", "type", "error_codes"}
    assert item_size(kept) <= INLINE_ITEM_BYTES
    by_key = {spilled.key: spilled for spilled in objects}
    for name in ("raw", "text"):
        pointer = PayloadPointer.from_json(kept[f"{name}_s3"])
        assert (pointer.bucket, pointer.size) == ("bucket", len(item[name]))
        assert pointer.key == f"{SPILL_PREFIX}{hashlib.sha256(item[name].encode()).hexdigest()}"
        assert by_key[pointer.key].body.decode() == item[name]
    assert spill(item, "bucket") == (kept, objects)  # the same item twice: the same objects


def test_a_value_that_is_no_text_spills_as_json_and_keys_never_spill() -> None:
    item = {"pk": "RAW#" + "a" * 64, "sk": "UNTYPED#x", "codes": list(range(3000)), "error": "e" * 20_000}
    kept, objects = spill(item, "bucket")
    assert kept["pk"] == item["pk"]
    assert "codes_s3" in kept
    (as_json,) = [spilled for spilled in objects if spilled.content_type == "application/json"]
    assert json.loads(as_json.body) == list(range(3000))
