"""The ``wactl`` command line: one subcommand per concern, each in its own module."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from wactl import (
    conversation,
    cost,
    dlq,
    doctor,
    events,
    failed,
    forget,
    media,
    migrate,
    raw,
    reminders,
    send,
    stats,
    templates,
)
from wactl.errors import WactlError
from wactl.output import Output
from wactl.target import add_target_arguments

Handler = Callable[[argparse.Namespace, Output], int]


def build_parser() -> argparse.ArgumentParser:
    # Options every command takes, accepted after the command's name (wactl dlq list --local).
    targets = argparse.ArgumentParser(add_help=False)
    add_target_arguments(targets)
    common = argparse.ArgumentParser(add_help=False, parents=[targets])
    common.add_argument("--json", action="store_true", help="print one JSON document (progress on stderr)")

    parser = argparse.ArgumentParser(
        prog="wactl",
        description="Operator commands for the WhatsApp webhook pipeline, locally or on a deployed stack.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    conversation.register(commands, common)
    failed.register(commands, common)
    send.register(commands, common)
    raw.register(commands, common)
    reminders.register(commands, common)
    dlq.register(commands, common)
    migrate.register(commands, common)
    events.register(commands, common)
    stats.register(commands, common)
    cost.register(commands, common)
    forget.register(commands, common)
    doctor.register(commands, common)
    media.register(commands, common)
    templates.register(commands, common)
    return parser


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    out = Output(json_mode=args.json)
    handler: Handler = args.handler
    try:
        return handler(args, out)
    except WactlError as exc:
        out.error(str(exc))
        return 1
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
