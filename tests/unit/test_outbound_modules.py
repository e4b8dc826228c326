"""The contract's modules: every name still read from wacloud.meta.outbound, and a send of one type
loading only that type's models."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from typing import get_args

import pytest

from support.paths import REPO
from wacloud.meta import outbound
from wacloud.meta.outbound.model import member_tag
from wacloud.meta.outbound.parsing import MEMBERS
from wacloud.meta.outbound.request import OutboundItem

PACKAGE = REPO / "layers" / "shared" / "wacloud" / "meta" / "outbound"


def defined_names(family: str) -> list[str]:
    """The public names a module defines itself, in order (not those it imports)."""
    tree = ast.parse((PACKAGE / f"{family}.py").read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [name for name in names if not name.startswith("_")]


@pytest.mark.parametrize("family", sorted(outbound.FAMILIES))
def test_each_family_lists_the_names_its_module_defines(family: str) -> None:
    listed = outbound.FAMILIES[family].split()
    defined = [name for name in defined_names(family) if name != "ITEM"]  # ITEM: the parser's own
    assert listed == defined


def test_every_public_name_is_read_from_the_package() -> None:
    lazy = {name for names in outbound.FAMILIES.values() for name in names.split()}
    assert lazy <= set(outbound.__all__)
    for name in outbound.__all__:
        value = getattr(outbound, name)
        assert value is not None
        if name in lazy:
            family = next(key for key, names in outbound.FAMILIES.items() if name in names.split())
            assert value is getattr(importlib.import_module(f"wacloud.meta.outbound.{family}"), name)
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = outbound.Nothing


def test_the_parser_names_the_model_of_every_member_of_the_union() -> None:
    members = {member_tag(member): member for member in get_args(get_args(OutboundItem)[0])}
    named = {
        tag: getattr(importlib.import_module(f"wacloud.meta.outbound.{family}"), name)
        for tag, (family, name) in MEMBERS.items()
    }
    assert named == members


def test_a_text_send_loads_the_text_models_only() -> None:
    script = (
        "import sys\n"
        "from wacloud.meta.outbound import parse_send_request\n"
        "parse_send_request({'to': '15551234567', 'type': 'text', 'text': {'body': 'hi'}})\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('wacloud.meta.outbound.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO / "layers" / "shared")},
    )
    assert result.returncode == 0, result.stderr
    loaded = {name.rsplit(".", 1)[1] for name in result.stdout.split()}
    assert loaded == {"fields", "items", "model", "parsing", "results", "text"}
