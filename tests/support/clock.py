"""A fake clock for rate limits and backoffs."""

from __future__ import annotations


class FakeTime:
    """A clock whose sleep advances it: rate limits and backoffs without waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds
