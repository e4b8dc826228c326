"""``make bench``: every benchmark's figures in one table, and ``bench/results/latest.json``.

    python -m bench [--quick] [--readme] [--output PATH]

``--quick`` runs each benchmark briefly (to check they run, not to measure), ``--readme``
rewrites the table in README.md's Performance section.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.figures import check_shape, table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# Each module exposes figures() (taking ``quick`` if it has a quick mode) returning dicts with the
# keys of bench.figures.Figure, and may expose assumptions() -> list[str]. One line per module.
SECTIONS = (
    "bench.inbound_cost",
    "bench.media_cost",
    "bench.events_cost",
    "bench.write_units",
    "bench.cold_start",
    "bench.webhook_cpu",
    "bench.metrics_overhead",
    "bench.send_rate",
    "bench.parse",
    "bench.packages",
    "bench.pipeline",
)


def run(sections: tuple[str, ...], *, quick: bool) -> tuple[list[dict[str, Any]], list[str]]:
    figures: list[dict[str, Any]] = []
    assumptions: list[str] = []
    for name in sections:
        module = importlib.import_module(name)
        started = time.monotonic()
        produce = module.figures
        found = produce(quick=quick) if "quick" in inspect.signature(produce).parameters else produce()
        check_shape(found)
        figures += found
        if hasattr(module, "assumptions"):
            assumptions += module.assumptions()
        print(f"  {name}: {len(found)} figures in {time.monotonic() - started:.0f} s", flush=True)
    return figures, assumptions


def rewrite_readme(text: str) -> None:
    readme = README.read_text()
    head, found, rest = readme.partition(BEGIN)
    _, ended, tail = rest.partition(END)
    if not (found and ended):
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers around the Performance table")
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="brief runs: checks the benchmarks run")
    parser.add_argument("--readme", action="store_true", help="rewrite README.md's Performance table")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--only", nargs="*", default=None, help="these SECTIONS modules only")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    started = time.monotonic()
    sections = tuple(args.only) if args.only else SECTIONS
    figures, assumptions = run(sections, quick=args.quick)
    elapsed = time.monotonic() - started
    rendered = table(figures)
    notes = "\n".join(f"- {line}" for line in assumptions)
    print()
    print(rendered)
    print()
    print("Assumptions:")
    print(notes)
    print(f"\nbenchmarks took {elapsed:.0f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"figures": figures}, indent=2) + "\n")
    if args.readme:
        rewrite_readme(f"{rendered}\n\nAssumptions:\n\n{notes}\n\nMeasured in {elapsed:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
