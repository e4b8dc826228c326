"""``make bench``: run every benchmark and print its ratios."""

from __future__ import annotations

import sys

from bench import cold_start, local_pipeline, webhook_latency


def main() -> int:
    for module in (cold_start, webhook_latency, local_pipeline):
        print(module.run(), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
