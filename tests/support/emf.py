"""Reading the CloudWatch embedded metric format lines a handler wrote to its log (stdout)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    unit: str
    value: float
    dimensions: tuple[tuple[str, str], ...]


def emf_lines(output: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines of ``output``, checked against the format's rules."""
    found = []
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        directive = document["_aws"]
        assert isinstance(directive["Timestamp"], int)
        for metric_set in directive["CloudWatchMetrics"]:
            for dimension_set in metric_set["Dimensions"]:
                assert all(isinstance(document[name], str) for name in dimension_set), document
            for metric in metric_set["Metrics"]:
                assert metric["Name"] in document, document
        found.append(document)
    return found


def data(output: str) -> list[Datum]:
    points = []
    for document in emf_lines(output):
        for metric_set in document["_aws"]["CloudWatchMetrics"]:
            (dimension_names,) = metric_set["Dimensions"]
            dimensions = tuple((name, document[name]) for name in dimension_names)
            for metric in metric_set["Metrics"]:
                values = document[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    points.append(
                        Datum(metric_set["Namespace"], metric["Name"], metric["Unit"], value, dimensions)
                    )
    return points


def counts(output: str) -> Counter[tuple[str, ...]]:
    """Counts by (name, dimension values other than service...), summed over the lines."""
    summed: Counter[tuple[str, ...]] = Counter()
    for datum in data(output):
        if datum.unit != "Count":
            continue
        extra = tuple(f"{name}={value}" for name, value in datum.dimensions if name != "service")
        summed[(datum.name, *extra)] += int(datum.value)
    return summed
