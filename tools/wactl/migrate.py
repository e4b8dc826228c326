"""``wactl migrate inbound``: moves inbound messages stored before they were kept with their contact.

Older versions stored an inbound message under its wamid (``MSG#<wamid>`` / ``MESSAGE``) with an
index entry for the conversation; it now lives in its sender's partition
(``CONTACT#<wa_id>`` / ``MSG#<ts>#<wamid>``), where conversations and the profile read it. The
command scans the table once for the old items, puts each where it belongs now and deletes the
old one. It is safe to run again or to stop: a message moved twice is written the same.
"""

from __future__ import annotations

import argparse
from typing import Any

from wacloud.table.errors import TableUnavailableError
from wactl.arguments import positive_int
from wactl.output import Output
from wactl.records import Records, TableError
from wactl.target import OUTPUT_TABLE, from_arguments

PAGE_SIZE = 500


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="move items stored by older versions to where they are kept now",
        description="Move items an older version stored to where this one keeps them.",
    )
    steps = migrate.add_subparsers(dest="step", required=True, metavar="STEP")
    inbound = steps.add_parser(
        "inbound",
        parents=[common],
        help="inbound messages stored under their wamid, into their contacts' partitions",
        description="Scans the table for inbound messages stored under their wamid (MSG#<wamid>), "
        "puts each in its sender's partition (CONTACT#<wa_id>) and deletes the old item. Needs "
        "dynamodb:Scan and dynamodb:BatchWriteItem on the table. Safe to repeat.",
    )
    inbound.add_argument("--dry-run", action="store_true", help="count what would move, move nothing")
    inbound.add_argument(
        "--page-size", type=positive_int, default=PAGE_SIZE, metavar="N", help="items per scanned page"
    )
    inbound.set_defaults(handler=_inbound_command)


def _inbound_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    store = Records(target.table()).store
    moved = 0
    cursor: Any = None
    try:
        while True:
            page = store.old_inbound_messages(cursor, args.page_size)
            if page.messages and not args.dry_run:
                store.move_inbound(page.messages)
            moved += len(page.messages)
            out.progress(f"{moved} inbound messages {'to move' if args.dry_run else 'moved'} so far")
            cursor = page.cursor
            if cursor is None:
                break
    except TableUnavailableError as exc:
        raise TableError(f"cannot migrate table {target.table_name} ({exc})") from exc
    verb = "would move" if args.dry_run else "moved"
    plural = "" if moved == 1 else "s"
    out.result(
        {"target": target.description, "dry_run": args.dry_run, "inbound_messages": moved},
        [f"{verb} {moved} inbound message{plural} in {target.table_name} ({target.description})"],
    )
    return 0
