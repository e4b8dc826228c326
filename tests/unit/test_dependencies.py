"""The dependencies layer ships exactly the versions the tests run against."""

from __future__ import annotations

import tomllib

from support.paths import REPO

ROOT = REPO


def test_layer_pins_equal_the_project_pins() -> None:
    lines = (ROOT / "layers/dependencies/requirements.txt").read_text().splitlines()
    layer = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    project = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert layer
    assert all("==" in pin for pin in layer)
    assert layer <= project
    # boto3 comes from the Lambda runtime, so it is the one project dependency not in the layer.
    assert {pin.split(">")[0].split("=")[0] for pin in project - layer} == {"boto3"}
