"""`sam build` makes artifacts for the template's runtime (python3.13 on arm64) on any machine.

No Docker and no local python3.13: the functions and the shared layer are copied by their
Makefiles, and the dependencies layer gets pip's manylinux2014_aarch64 / cp313 wheels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.paths import REPO

# Its module-scoped fixture is costly: its tests stay together on one worker of a parallel run.
pytestmark = pytest.mark.xdist_group("build")

ROOT = REPO
BIN = Path(sys.executable).parent
FUNCTIONS = {
    "WebhookFunction": ROOT / "functions" / "webhook",
    "ProcessorFunction": ROOT / "functions" / "processor",
    "SenderFunction": ROOT / "functions" / "sender",
    "PublisherFunction": ROOT / "functions" / "publisher",
    "ReplyBotFunction": ROOT / "functions" / "replybot",
    "MediaFunction": ROOT / "functions" / "media",
}
LAYERS = ("SharedLayer", "DependenciesLayer")
ELF_MAGIC = b"\x7fELF"
ELF_MACHINE_AARCH64 = 183
# The template's runtime, python3.13: the Makefiles compile bytecode with a python3.13 of this machine.
BYTECODE = "cpython-313"


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sam")
    build = tmp / "build"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHON": sys.executable,
        "SAM_CLI_TELEMETRY": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    # Under `make`, command-line variables would reach the per-directory Makefiles through it.
    env.pop("MAKEFLAGS", None)
    command = [
        str(BIN / "sam"),
        "build",
        "--build-dir",
        str(build),
        "--template-file",
        "template.yaml",
        "--no-cached",
    ]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"sam build failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return build


def _bytecode_tags(directory: Path) -> set[str]:
    """The interpreter tags of the bytecode under ``directory`` (``cpython-313``, ...)."""
    return {path.name.split(".")[-2] for path in directory.rglob("*.pyc")}


def _files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == ELF_MAGIC, f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


def test_built_template_points_at_the_artifacts(build_dir: Path) -> None:
    template: dict[str, Any] = yaml.safe_load((build_dir / "template.yaml").read_text())
    resources = template["Resources"]
    for name in FUNCTIONS:
        assert resources[name]["Properties"]["CodeUri"] == name
        assert (build_dir / name).is_dir()
    for name in LAYERS:
        assert resources[name]["Properties"]["ContentUri"] == name
        assert (build_dir / name).is_dir()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_ship_only_their_modules(build_dir: Path, name: str) -> None:
    artifact = build_dir / name
    assert (artifact / "app.py").is_file()
    shipped = [path.relative_to(artifact) for path in artifact.rglob("*") if path.parent == artifact]
    assert shipped, f"{name} is empty"
    for path in shipped:
        if path.name == "__pycache__":
            continue
        assert (artifact / path).is_file(), f"{name} ships a directory: {path}"
        assert path.suffix == ".py", f"{name} ships {path}"
        assert (artifact / "__pycache__" / f"{path.stem}.{BYTECODE}.pyc").is_file(), f"no bytecode for {path}"
        assert not path.name.startswith("test_"), f"{name} ships a test: {path}"
        assert not path.name.endswith("_test.py"), f"{name} ships a test: {path}"
        assert path.name != "conftest.py"
    sources = {path.name for path in FUNCTIONS[name].glob("*.py")}
    assert {path.name for path in shipped} - {"__pycache__"} <= sources
    assert _bytecode_tags(artifact) == {BYTECODE}


def test_shared_layer_puts_wacloud_on_the_layer_path(build_dir: Path) -> None:
    python = build_dir / "SharedLayer" / "python"
    assert sorted(path.name for path in python.iterdir()) == ["wacloud"]
    assert (python / "wacloud" / "__init__.py").is_file()
    source = ROOT / "layers" / "shared" / "wacloud"
    expected = {path.relative_to(source) for path in source.rglob("*.py") if "__pycache__" not in path.parts}
    shipped = {path.relative_to(python / "wacloud") for path in _files(python / "wacloud")}
    assert expected <= shipped
    # Compiled for the runtime's Python (Lambda's /opt is read-only: without it each cold start
    # compiles), and for nothing else.
    for module in expected:
        assert module.parent / "__pycache__" / f"{module.stem}.{BYTECODE}.pyc" in shipped, module
    assert _bytecode_tags(python) == {BYTECODE}


def test_dependencies_layer_is_built_for_cp313_on_arm64(build_dir: Path) -> None:
    python = build_dir / "DependenciesLayer" / "python"
    core = python / "pydantic_core" / "_pydantic_core.cpython-313-aarch64-linux-gnu.so"
    assert core.is_file()
    assert _elf_machine(core) == ELF_MACHINE_AARCH64
    for package in ("aws_lambda_powertools", "pydantic"):
        assert (python / package / "__init__.py").is_file(), package
    # The Graph API client uses the runtime's urllib3 (botocore's): no HTTP library of its own.
    assert not (python / "requests").exists()
    assert not (python / "urllib3").exists()
    # The Lambda runtime provides boto3; the layer must not shadow it.
    assert not (python / "boto3").exists()
    assert not (python / "botocore").exists()
    assert not (python / "bin").exists()
    assert (python / "pydantic" / "__pycache__" / f"__init__.{BYTECODE}.pyc").is_file()
    assert _bytecode_tags(python) == {BYTECODE}


def test_no_native_code_for_another_platform(build_dir: Path) -> None:
    libraries = [path for path in _files(build_dir) if path.suffix == ".so" or ".so." in path.name]
    assert libraries
    for library in libraries:
        assert "x86_64" not in library.name, library
        assert "cpython-" not in library.name or "cpython-313-" in library.name, library
        assert _elf_machine(library) == ELF_MACHINE_AARCH64, library
