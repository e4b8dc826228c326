"""Lambda's event filtering (``FilterCriteria``) as the emulator applies it to stream records.

A filter is an EventBridge-style pattern: each key names a field of the record, a nested object
matches nested fields, and a list matches when the record's value (or one of its values, when it
is a list) matches one of its elements: a literal, or one of the operators below. A record is
kept when any filter matches it. An operator this module does not know is refused when the
template is read, so the emulator never silently keeps or drops what Lambda would not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

OPERATORS = frozenset({"prefix", "suffix", "exists", "anything-but", "equals-ignore-case"})


class FilterError(ValueError):
    """A filter pattern the emulator cannot apply exactly as Lambda does."""


def parse_filters(filters: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The patterns of ``FilterCriteria.Filters`` (each a JSON string), checked."""
    patterns = []
    for entry in filters:
        try:
            pattern = json.loads(str(entry["Pattern"]))
        except (KeyError, ValueError) as exc:
            raise FilterError(f"a filter must have a JSON Pattern: {entry!r}") from exc
        _check(pattern, "")
        patterns.append(pattern)
    return patterns


def keeps(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether a record passes: no filters, or any of them matches."""
    return not patterns or any(_matches(pattern, record) for pattern in patterns)


def _check(pattern: Any, path: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise FilterError(f"pattern at {path or 'the top'} must be a non-empty object")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            _check(value, where)
        elif isinstance(value, list) and value:
            for element in value:
                if isinstance(element, dict):
                    unknown = set(element) - OPERATORS
                    if len(element) != 1 or unknown:
                        raise FilterError(f"{where}: operator {sorted(element)} is not supported locally")
        else:
            raise FilterError(f"{where}: must be an object or a non-empty list")


def _matches(pattern: Mapping[str, Any], data: Any) -> bool:
    for key, expected in pattern.items():
        present = isinstance(data, Mapping) and key in data
        value = data[key] if present else None
        if isinstance(expected, dict):
            if not present or not _matches(expected, value):
                return False
        elif not any(_element(element, present, value) for element in expected):
            return False
    return True


def _element(element: Any, present: bool, value: Any) -> bool:
    if isinstance(element, dict):
        (operator, operand), *_ = element.items()
        if operator == "exists":
            return present is bool(operand)
        if not present:
            return False
        values = value if isinstance(value, list) else [value]
        return any(_operator(operator, operand, item) for item in values)
    if not present:
        return False
    values = value if isinstance(value, list) else [value]
    return any(item == element for item in values)


def _operator(operator: str, operand: Any, item: Any) -> bool:
    if operator == "prefix":
        return isinstance(item, str) and item.startswith(str(operand))
    if operator == "suffix":
        return isinstance(item, str) and item.endswith(str(operand))
    if operator == "equals-ignore-case":
        return isinstance(item, str) and item.lower() == str(operand).lower()
    # anything-but: a literal, or a list of them, or {"prefix": ...}
    if isinstance(operand, dict):
        (inner, text), *_ = operand.items()
        return not (inner == "prefix" and isinstance(item, str) and item.startswith(str(text)))
    excluded = operand if isinstance(operand, list) else [operand]
    return item not in excluded
