"""Items within DynamoDB's limits: time keys that sort whatever time Meta sends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wacloud.table.keys import MAX_KEY_SECONDS, seconds_key, time_key


@given(st.lists(st.integers(-(10**14), 10**14), min_size=2))
def test_time_keys_sort_as_their_clamped_times(times: list[int]) -> None:
    keys = [seconds_key(value) for value in times]
    assert all(len(key) == 10 for key in keys)
    clamped = [min(max(value, 0), MAX_KEY_SECONDS) for value in times]
    assert sorted(range(len(times)), key=lambda i: (keys[i], i)) == sorted(
        range(len(times)), key=lambda i: (clamped[i], i)
    )
    assert time_key(-1, "w") == "0000000000#w"
