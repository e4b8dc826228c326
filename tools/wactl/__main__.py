"""``wactl``: operator commands. Subcommands are registered by the modules named for what they do."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from wactl.cli import run  # noqa: PLC0415 (keeps --help fast)

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
