"""Hypothesis strategies the fuzzing tests share: any JSON value, and paths into a document."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    _containers,
    max_leaves=6,
)
"""Values of every JSON type, nested a little: what a direct invoke or a malformed request may hold."""


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any, changes: int = 3, add_keys: bool = False) -> Any:
    """``document`` with 1 to ``changes`` values replaced by any JSON value or removed (or keys added)."""
    actions = ["replace", "delete", "add"] if add_keys else ["replace", "delete"]
    for _ in range(draw(st.integers(1, changes))):
        found = paths(document)
        if not found:
            break
        path = draw(st.sampled_from(found))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(actions))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return document
