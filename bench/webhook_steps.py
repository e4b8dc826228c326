"""Where the webhook's warm CPU goes: its small steps timed alone, then the webhook, its core, the
SQS call with and without attributes, and the floor, in blocks taken in a random order. Not a
figure of ``make bench``: the account behind the webhook's ratio (docs/architecture.md).

    python -m bench.webhook_steps [--blocks N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.webhook_cpu import run_instance

INSTANCE = Path(__file__).resolve().parent / "webhook_steps_instance.py"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_steps", description=__doc__)
    parser.add_argument("--blocks", type=int, default=80, help="blocks of each handler (default 80)")
    args = parser.parse_args(argv)
    found = run_instance(INSTANCE, [("1 KB", 1024)], args.blocks)
    print("Alone, CPU per call (signed 1 KB POST, python -S from the built artifacts):")
    for name, micros in found["alone"].items():
        print(f"  {name:44s} {micros:9.1f} us")
    floor = found["whole"]["floor"]
    print(f"In turns, the median of {args.blocks} blocks each, in a random order each round:")
    for name, micros in found["whole"].items():
        print(f"  {name:44s} {micros:9.1f} us  {micros / floor:6.3f}x the floor")


if __name__ == "__main__":
    main()
