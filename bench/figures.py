"""A figure: one line of the table and of ``bench/results/latest.json``.

Every benchmark module exposes ``figures()`` returning dicts with exactly the keys of
:class:`Figure`, so a new module joins the table by one line in ``bench/__main__.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, TypedDict

KEYS = ("name", "unit", "value", "floor", "ratio", "goal", "met")


class Figure(TypedDict):
    name: str
    unit: str
    value: float
    floor: float | None
    """The floor or peer measured in the same run (or a limit the value is held against)."""
    ratio: float | None
    """value / floor."""
    goal: str
    met: bool | None
    """None when the figure is only reported."""


Comparison = Literal["ratio<=", "value<=", "value>=", "reported"]


def figure(
    name: str,
    unit: str,
    value: float,
    floor: float | None,
    *,
    check: Comparison = "reported",
    target: float | None = None,
) -> Figure:
    """A figure and whether it meets its goal: ``ratio<=`` holds value/floor to the target,
    ``value<=`` and ``value>=`` hold the value itself."""
    ratio = value / floor if floor else None
    met: bool | None
    if check == "reported" or target is None:
        goal, met = "reported", None
    elif check == "ratio<=":
        goal, met = f"<= {target:g}x floor", ratio is not None and ratio <= target
    elif check == "value<=":
        goal, met = f"<= {target:g}", value <= target
    else:
        goal, met = f">= {target:g}", value >= target
    return Figure(
        name=name,
        unit=unit,
        value=_rounded(value),
        floor=None if floor is None else _rounded(floor),
        ratio=None if ratio is None else round(ratio, 3),
        goal=goal,
        met=met,
    )


def _rounded(number: float) -> float:
    """Four significant digits: enough for a ratio, short in JSON."""
    return float(f"{number:.4g}")


def check_shape(figures: Iterable[Mapping[str, object]]) -> None:
    """Raise when a module returns something the table cannot show."""
    for item in figures:
        if tuple(sorted(item)) != tuple(sorted(KEYS)):
            raise ValueError(f"a figure has keys {sorted(item)}, expected {sorted(KEYS)}")


def table(figures: Sequence[Mapping[str, object]]) -> str:
    """A Markdown table: readable in a terminal, pasted as is in the README."""
    header = "| figure | unit | value | floor or peer | ratio | goal | met |"
    lines = [header, "| --- | --- | ---: | ---: | ---: | --- | --- |"]
    for item in figures:
        met = {True: "yes", False: "**no**", None: ""}[item["met"]]  # type: ignore[index]
        lines.append(
            f"| {item['name']} | {item['unit']} | {_cell(item['value'])} | {_cell(item['floor'])} "
            f"| {_cell(item['ratio'])} | {item['goal']} | {met} |"
        )
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def median_seconds(action: Callable[[], object], rounds: int, clock: Callable[[], float]) -> float:
    """Median of ``rounds`` calls by ``clock`` (``time.process_time`` for CPU, ``perf_counter``
    for wall time), after one call that warms caches and connections."""
    action()
    samples = []
    for _ in range(rounds):
        started = clock()
        action()
        samples.append(clock() - started)
    return statistics.median(samples)


def cpu_seconds_per_call(action: Callable[[], object], rounds: int, blocks: int = 5) -> float:
    """CPU time of one call: the median over ``blocks`` of the mean of a block of calls (a block
    evens out the clock's granularity, the median the other processes sharing the cores)."""
    action()
    per_block = max(1, rounds // blocks)
    means = []
    for _ in range(blocks):
        started = time.process_time()
        for _ in range(per_block):
            action()
        means.append((time.process_time() - started) / per_block)
    return statistics.median(means)
