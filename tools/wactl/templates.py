"""``wactl templates list`` and ``wactl templates sync``: the sender's template catalog.

``list`` reads the catalog from the table (``TEMPLATES`` partition): each template and language
with its status, category, quality and what a send must fill in, and when it was last synced.
``sync`` invokes the sender with the ``TemplateSync`` schedule's input from template.yaml, as the
schedule would: the sender reads ``GET /<version>/<waba-id>/message_templates`` and replaces the
catalog, or, when it cannot, keeps the last known one and says why (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import time

from wacloud.table.errors import TableUnavailableError
from wacloud.table.templates import CatalogSnapshot, TemplateCatalogStore
from wactl.errors import WactlError
from wactl.invoke import invoke_sender
from wactl.output import Output, ago, table, utc
from wactl.reminders import schedule_input
from wactl.target import OUTPUT_SENDER, OUTPUT_TABLE, from_arguments

SCHEDULE = "TemplateSync"


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    templates = commands.add_parser(
        "templates",
        help="the template catalog: list it, sync it from Meta",
        description="The sender's template catalog (docs/sender.md): the approved templates it checks "
        "template sends against.",
    )
    actions = templates.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="list the catalog the sender uses",
        description="List the template catalog from the table: name, language, status, category, "
        "quality, parameters, and the last sync.",
    )
    listing.add_argument("--name", help="only this template's languages")
    listing.set_defaults(handler=_list_command)
    sync = actions.add_parser(
        "sync",
        parents=[common],
        help="sync the catalog from the Graph API now",
        description=f"Invoke the sender with the {SCHEDULE} schedule's input from template.yaml: it "
        "reads the account's message templates from the Graph API and replaces the catalog. A sync "
        "that fails leaves the last known catalog in force (exit status 1).",
    )
    sync.set_defaults(handler=_sync_command)


def _list_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    try:
        snapshot = TemplateCatalogStore(target.table()).snapshot()
    except TableUnavailableError as exc:
        raise WactlError(f"cannot read the template catalog from table {target.table_name}: {exc}") from exc
    definitions = sorted(
        (d for d in snapshot.templates.values() if args.name is None or d.name == args.name),
        key=lambda d: (d.name, d.language),
    )
    lines = [f"Template catalog ({target.description}, table {target.table_name}): {_state(snapshot)}"]
    if definitions:
        lines += table(
            ["NAME", "LANGUAGE", "STATUS", "CATEGORY", "QUALITY", "BODY", "HEADER"],
            [
                [
                    d.name,
                    d.language,
                    d.status,
                    d.category or "-",
                    d.quality or "-",
                    "?" if d.body_params is None else str(d.body_params),
                    (d.header_format or "-") + (f" ({d.header_params})" if d.header_format == "TEXT" else ""),
                ]
                for d in definitions
            ],
        )
    document = {
        "target": target.description,
        "synced_at": snapshot.synced_at,
        "failed_at": snapshot.failed_at,
        "error": snapshot.error,
        "templates": [
            {
                "name": d.name,
                "language": d.language,
                "status": d.status,
                "category": d.category,
                "quality": d.quality,
                "body_params": d.body_params,
                "header_format": d.header_format,
                "header_params": d.header_params,
                "id": d.template_id,
            }
            for d in definitions
        ],
    }
    out.result(document, lines)
    return 0


def _state(snapshot: CatalogSnapshot) -> str:
    now = time.time()
    if not snapshot.known:
        state = "never synced: the sender sends templates unchecked (run wactl templates sync)"
    elif snapshot.synced_at is None:
        state = f"{len(snapshot.templates)} template(s) known from webhooks, never synced"
    else:
        state = (
            f"{len(snapshot.templates)} template(s), synced {utc(snapshot.synced_at)} "
            f"UTC ({ago(now - snapshot.synced_at)} ago)"
        )
    failed_since = snapshot.failed_at is not None and (snapshot.synced_at or 0) < snapshot.failed_at
    if failed_since:
        state += f"; the last sync failed {utc(snapshot.failed_at)} UTC: {snapshot.error}"
    return state


def _sync_command(args: argparse.Namespace, out: Output) -> int:
    event = schedule_input(SCHEDULE)
    target = from_arguments(args, needs=[OUTPUT_SENDER])
    out.progress(
        f"Syncing the template catalog: invoking {target.sender_function} with {json.dumps(event)} ..."
    )
    invocation = invoke_sender(target, event)
    summary = invocation.answer if isinstance(invocation.answer, dict) else {}
    if "synced" not in summary:
        raise WactlError(f"{invocation.function} answered without a sync summary: {invocation.answer!r}")
    document = {"target": target.invoke_description, "function": invocation.function, "summary": summary}
    if summary["synced"]:
        count = summary["templates"]
        out.result(document, [f"Template catalog synced ({target.invoke_description}): {count} template(s)."])
        return 0
    out.result(
        document,
        [
            f"Template catalog NOT synced ({target.invoke_description}): {summary.get('error')}",
            "The last known catalog stays in force (wactl templates list shows it).",
        ],
    )
    return 1
