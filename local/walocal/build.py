"""The template's functions and layers built for this machine, by the Makefiles `sam build` runs.

`sam build` makes the artifacts Lambda runs (CPython 3.13 on arm64). The local runtime and the
tests need the same artifacts for this machine's CPU and Python, so the same Makefiles run with
the platform, Python version and interpreter of this machine; the output lands in
``.aws-sam/local/<python>-<machine>/``, one directory per function and layer, rebuilt only when
what it is built from changes (a content hash). Beside them, ``runtime/`` holds what Lambda's
managed runtime provides besides the interpreter: boto3 and the runtime interface client
(``local/runtime-requirements.txt``). Nothing else is shared with the development environment.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from walocal.template import PROJECT_ROOT, FunctionSpec, Template

BUILD_ROOT = PROJECT_ROOT / ".aws-sam" / "local"
RUNTIME_REQUIREMENTS = PROJECT_ROOT / "local" / "runtime-requirements.txt"
_HASH_FILE = ".build-hash"
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}


class BuildError(Exception):
    """A Makefile or pip failed; the message names the resource and carries the tool's output."""


@dataclass(frozen=True)
class HostArtifacts:
    functions: dict[str, Path]
    """Function LogicalId -> its task root (what Lambda mounts at /var/task)."""
    layers: dict[str, Path]
    """Layer LogicalId -> the layer (what Lambda mounts at /opt; it holds ``python/``)."""
    function_layers: dict[str, list[str]]
    """Function LogicalId -> its layers' LogicalIds, in the template's order."""
    runtime: Path
    """boto3 and awslambdaric: what the Lambda runtime itself provides."""
    python: str
    """The interpreter the artifacts are built for; workers run with it."""

    def import_path(self, spec: FunctionSpec | str) -> list[Path]:
        """A function's sys.path as Lambda sets it: task root, layers (the last one first), runtime."""
        name = spec if isinstance(spec, str) else spec.logical_id
        layers = [self.layers[layer] / "python" for layer in reversed(self.function_layers[name])]
        return [self.functions[name], *layers, self.runtime]


def build_for_host(template: Template, *, python: str | None = None) -> HostArtifacts:
    """Build (or find up to date) every makefile-built function and layer, and the runtime dir.

    Builds started at once (runtimes and tests in parallel) share the build directory: one
    builds, the others wait for it and then find everything up to date.
    """
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with (BUILD_ROOT / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _build_all(template, python)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_all(template: Template, python: str | None) -> HostArtifacts:
    interpreter = python or base_interpreter()
    version = python_version(interpreter)
    root = BUILD_ROOT / f"py{version}-{platform.machine()}"
    variables = {
        "LAMBDA_PLATFORM": _platform_tag(),
        "LAMBDA_PYTHON_VERSION": version,
        "LAMBDA_PYTHON": interpreter,
        # pip runs from this environment: it downloads wheels for the target whatever runs it.
        "PYTHON": sys.executable,
    }
    functions, layers = _sources(template)
    for name, source in {**functions, **layers}.items():
        _build(name, source, root / name, variables)
    runtime = root / "runtime"
    _refresh(
        runtime, _digest([RUNTIME_REQUIREMENTS], variables), partial(_install_runtime, runtime, variables)
    )
    return HostArtifacts(
        functions={name: root / name for name in functions},
        layers={name: root / name for name in layers},
        function_layers={name: _layers_of(template.functions()[name]) for name in functions},
        runtime=runtime,
        python=interpreter,
    )


def _sources(template: Template) -> tuple[dict[str, Path], dict[str, Path]]:
    """The source directories of the functions and of the layers that the Makefiles build."""

    def makefile_built(name: str) -> bool:
        return bool(template.resources[name].get("Metadata", {}).get("BuildMethod") == "makefile")

    functions = {name: spec.code_dir for name, spec in template.functions().items() if makefile_built(name)}
    layers = {
        name: PROJECT_ROOT / str(props["ContentUri"])
        for name, props in template.of_type("AWS::Serverless::LayerVersion").items()
        if makefile_built(name)
    }
    return functions, layers


def _layers_of(spec: FunctionSpec) -> list[str]:
    names = []
    for layer in spec.layers:
        if not (isinstance(layer, dict) and "Ref" in layer):
            raise BuildError(f"{spec.logical_id}: only layers of this template (!Ref Layer) can run locally")
        names.append(str(layer["Ref"]))
    return names


def _build(name: str, source: Path, out: Path, variables: dict[str, str]) -> None:
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(source),
        f"build-{name}",
        f"ARTIFACTS_DIR={out}",
        *(f"{key}={value}" for key, value in variables.items()),
    ]
    _refresh(
        out, _digest(_files(source), variables), partial(_run, command, f"building {name} for this machine")
    )


def _install_runtime(runtime: Path, variables: dict[str, str]) -> None:
    command = [
        variables["PYTHON"],
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--platform",
        variables["LAMBDA_PLATFORM"],
        "--implementation",
        "cp",
        "--python-version",
        variables["LAMBDA_PYTHON_VERSION"],
        "--target",
        str(runtime),
        "-r",
        str(RUNTIME_REQUIREMENTS),
    ]
    _run(command, "installing the Lambda runtime's packages (boto3, awslambdaric)")
    # Compiled as Lambda's runtime ships them, so cold starts measure the same work.
    _run(
        [variables["LAMBDA_PYTHON"], "-m", "compileall", "-q", "-j", "0", str(runtime)],
        "compiling the runtime's packages",
    )


def _refresh(out: Path, digest: str, make: Callable[[], None]) -> None:
    """Make ``out`` afresh with ``make``, unless it was made from the same inputs (``digest``)."""
    stamp = out / _HASH_FILE
    if stamp.is_file() and stamp.read_text() == digest:
        return
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    make()
    stamp.write_text(digest)


def _files(source: Path) -> list[Path]:
    return sorted(
        path
        for path in source.rglob("*")
        if path.is_file() and not _SKIPPED_PARTS.intersection(path.relative_to(source).parts)
    )


def _digest(files: Iterable[Path], variables: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(variables.items()):
        digest.update(f"{name}={value}\n".encode())
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(command: list[str], what: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("MAKEFLAGS", None)
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BuildError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}".rstrip())


def base_interpreter() -> str:
    """This Python without the development environment: the interpreter the venv was made from."""
    return str(getattr(sys, "_base_executable", sys.executable))


def find_interpreter(version: str) -> str | None:
    """A python<version> that runs: on PATH, else one installed by pyenv (as the Makefiles look)."""
    candidates = [
        f"python{version}",
        *map(str, sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))),
    ]
    for candidate in candidates:
        try:
            found = subprocess.run(  # noqa: S603 (fixed candidates, no shell)
                [candidate, "-c", "import sys; print(sys.executable)"],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return None


def python_version(interpreter: str) -> str:
    """``X.Y`` of an interpreter."""
    if interpreter in (sys.executable, base_interpreter()):
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    result = subprocess.run(  # noqa: S603 (an interpreter the caller named, no shell)
        [interpreter, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _platform_tag() -> str:
    """The wheel platform of this machine, for pip's --platform."""
    machine = platform.machine()
    if sys.platform == "darwin":
        return f"macosx_11_0_{machine}"
    return f"manylinux2014_{machine}"
