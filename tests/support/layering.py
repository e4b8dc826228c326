"""The shared layer's floors, and a static reading of which modules import which.

Each floor may import only floors below it (and itself); ``processor``, ``sender``, ``events`` and ``media``
stand side by side and do not import each other. Imports under ``if TYPE_CHECKING:`` are for the
type checker only and do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FLOORS = {
    "core": 0,
    "meta": 1,
    "webhook": 2,
    "table": 3,
    "processor": 4,
    "sender": 4,
    "events": 4,
    "media": 4,
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int


def modules(package_dir: Path) -> dict[str, Path]:
    """Every module of the package at ``package_dir``, by dotted name."""
    root = package_dir.parent
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def runtime_imports(name: str, path: Path) -> Iterator[Import]:
    """The imports a module executes when imported (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield Import(name, node.module, node.lineno)
            for alias in node.names:
                yield Import(name, f"{node.module}.{alias.name}", node.lineno)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def floor_of(module: str, package: str) -> str | None:
    parts = module.split(".")
    if parts[0] != package or len(parts) < 2 or parts[1] not in FLOORS:
        return None
    return parts[1]


def upward_imports(package_dir: Path) -> list[str]:
    """Every import of a higher floor, or of a floor beside, in the package: ``module:line -> target``."""
    package = package_dir.name
    problems = []
    for name, path in modules(package_dir).items():
        here = floor_of(name, package)
        for found in runtime_imports(name, path):
            there = floor_of(found.target, package)
            if here is None or there is None or there == here:
                continue
            if FLOORS[there] >= FLOORS[here]:
                problems.append(f"{name}:{found.line} -> {found.target} ({here} may not import {there})")
    return sorted(set(problems))


def closure(start: str, package_dir: Path) -> tuple[set[str], set[str]]:
    """The project modules ``start`` imports, directly or not, and the outside modules they import."""
    package = package_dir.name
    known = modules(package_dir)
    seen: set[str] = set()
    outside: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in seen or name not in known:
            continue
        seen.add(name)
        parts = name.split(".")
        # Importing a.b.c runs a/__init__ and a/b/__init__ first.
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        for found in runtime_imports(name, known[name]):
            if found.target.split(".")[0] == package:
                pending.append(found.target)
            else:
                outside.add(found.target.split(".")[0])
    return seen, outside
