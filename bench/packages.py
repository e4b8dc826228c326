"""Package sizes: each layer, and each function's code with its layers, unzipped (what Lambda
holds to its 250 MB limit) and zipped (what is uploaded).

From ``make build``'s artifacts (.aws-sam/build, python3.13 on arm64) when they are there, else
from the same Makefiles' build for this machine (python3.13 when installed): the wheels' sizes
differ a little between platforms.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

from bench.figures import Figure, figure
from walocal.build import base_interpreter, build_for_host, find_interpreter
from walocal.template import Template

ROOT = Path(__file__).resolve().parents[1]
SAM_BUILD = ROOT / ".aws-sam" / "build"
UNZIPPED_LIMIT_MB = 250
MB = 1024 * 1024
_notes: list[str] = []


def _files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def unzipped_bytes(directory: Path) -> int:
    return sum(os.path.getsize(path) for path in _files(directory))


def zipped_bytes(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(directory):
            archive.write(path, path.relative_to(directory))
    return buffer.tell()


def artifacts() -> tuple[dict[str, Path], dict[str, Path], dict[str, list[str]], str]:
    """Functions' and layers' directories, each function's layers, and where they come from."""
    template = Template.load()
    specs = template.functions()
    if all((SAM_BUILD / name).is_dir() for name in specs):
        used = {
            name: [layer["Ref"] for layer in spec.layers if isinstance(layer, dict) and "Ref" in layer]
            for name, spec in specs.items()
        }
        layers = {layer: SAM_BUILD / layer for names in used.values() for layer in names}
        built_at = time.strftime(
            "%Y-%m-%d %H:%M UTC", time.gmtime((SAM_BUILD / "template.yaml").stat().st_mtime)
        )
        return {name: SAM_BUILD / name for name in specs}, layers, used, f"make build (arm64) of {built_at}"
    python = find_interpreter("3.13") or base_interpreter()
    built = build_for_host(template, python=python)
    return (
        built.functions,
        built.layers,
        built.function_layers,
        f"a build for this machine ({Path(python).name})",
    )


def figures() -> list[Figure]:
    functions, layers, used, source = artifacts()
    _notes[:] = [f"package sizes from {source}; unzipped held to Lambda's {UNZIPPED_LIMIT_MB} MB limit"]
    results = []
    for name, directory in layers.items():
        results.append(figure(f"{name} zipped", "MB", zipped_bytes(directory) / MB, None))
    for name, directory in functions.items():
        total = unzipped_bytes(directory) + sum(unzipped_bytes(layers[layer]) for layer in used[name])
        results.append(
            figure(
                f"{name} with its layers, unzipped",
                "MB",
                total / MB,
                UNZIPPED_LIMIT_MB,
                check="value<=",
                target=UNZIPPED_LIMIT_MB,
            )
        )
    return results


def assumptions() -> list[str]:
    return list(_notes)
