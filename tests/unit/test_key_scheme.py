"""Only the table package spells out the key scheme: everything else asks it for keys."""

from __future__ import annotations

import ast
from pathlib import Path

from support.paths import REPO

PREFIXES = (
    "CONTACT#",
    "MSG#",
    "RAW#",
    "EVENT#",
    "IDEMPOTENCY#",
    "SEND#",
    "REMINDER_RUN#",
    "FAILED#",
    "REJECTED#",
    "STATUS#",
    "UNTYPED#",
    "FORGOTTEN#",
)
TABLE = REPO / "layers" / "shared" / "wacloud" / "table"
SOURCES = [REPO / "layers" / "shared" / "wacloud", REPO / "functions", REPO / "tools"]


def key_literals(path: Path) -> set[tuple[int, str]]:
    """Strings that start like a key (a literal or an f-string's start: built, or compared with)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PREFIXES):
            found.add((node.lineno, node.value[:40]))
    return found


def test_no_code_outside_the_table_package_builds_or_parses_keys() -> None:
    offenders = [
        found
        for root in SOURCES
        for path in sorted(root.rglob("*.py"))
        if TABLE not in path.parents
        for found in sorted(f"{path.relative_to(REPO)}:{line} {text!r}" for line, text in key_literals(path))
    ]
    assert offenders == []


def test_the_rule_sees_a_key_built_elsewhere(tmp_path: Path) -> None:
    code = tmp_path / "module.py"
    code.write_text('KEY = f"CONTACT#{wa_id}"\nok = pk.startswith("MSG#")\nNOTE = "a MSG# in prose"\n')
    assert key_literals(code) == {(1, "CONTACT#"), (2, "MSG#")}
