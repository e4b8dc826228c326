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


def cpu_seconds_per_call(actions: Sequence[Callable[[], object]], calls: int, blocks: int) -> list[float]:
    """CPU time of one call of each action, compared in the same moments: ``blocks`` blocks of
    ``calls`` calls each, the actions' blocks in strict turns, and for each action the median of
    its blocks' means.

    A block evens out the clock's granularity. Turns give every action the same share of the busy
    and the quiet moments of the shared cores, and the median drops the blocks another process
    disturbed. The fastest block would be an extreme taken at a different moment for each action:
    on this kind of machine it moved a ratio of two such figures by 30% from one run to the next,
    where the medians' ratio moved by 5%.
    """
    for action in actions:
        action()
    means: list[list[float]] = [[] for _ in actions]
    for _ in range(blocks):
        for action, found in zip(actions, means, strict=True):
            started = time.process_time()
            for _ in range(calls):
                action()
            found.append((time.process_time() - started) / calls)
    return [statistics.median(found) for found in means]
