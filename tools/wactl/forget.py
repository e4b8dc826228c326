"""``wactl forget <wa_id>``: erase a contact who asked to be forgotten.

Everything the table holds of them (wacloud.table.erasure says what and how it is found), the
payload bucket's objects that hold their data (raw bodies, spilled attributes), and their number
on other contacts' number-change links. It lists what it found, deletes it, and leaves a
tombstone without personal data. Safe to run again: a run that was stopped finishes on the next,
and a contact already forgotten is a no-op. What it cannot reach (backups, point-in-time
recovery, logs, events already published, queued webhooks) is in docs/deploy.md.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.client import TableClient
from wacloud.table.erasure import (
    ErasurePlan,
    delete_items,
    finish_tombstone,
    item_kind,
    mentions,
    plan_erasure,
    start_tombstone,
    unlink,
)
from wacloud.table.errors import TableUnavailableError
from wacloud.table.keys import tombstone_pk
from wactl.errors import WactlError, reason
from wactl.output import Output, plain, table
from wactl.target import OUTPUT_BUCKET, OUTPUT_TABLE, Target, from_arguments

# Where the bucket keeps bodies that may name a contact: the webhook's oversized payloads and the
# processor's archives (spilled attributes are found from their items).
PAYLOAD_PREFIXES = ("inbound/", "archive/")
WA_ID = re.compile(r"^\+?[A-Za-z0-9._-]{3,256}$")


class ForgetError(WactlError):
    """The erasure stopped; what was deleted stays deleted, and the next run finishes it."""


def contact_id(text: str) -> str:
    if not WA_ID.match(text):
        raise argparse.ArgumentTypeError(
            "expected a wa_id: a phone number in international format or a user id"
        )
    return text.removeprefix("+")


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    forget = commands.add_parser(
        "forget",
        parents=[common],
        help="erase a contact: messages both ways, statuses, profile, consent, payloads, claims",
        description="Erase everything stored of a contact (by wa_id): their profile and consent, "
        "messages both ways with their statuses, failed sends, idempotency claims, raw payloads "
        "and events that mention them, and the bucket's objects holding their data. Lists what it "
        "removes and leaves a tombstone without personal data. Idempotent: run it again to finish "
        "an interrupted erasure.",
    )
    forget.add_argument("wa_id", type=contact_id, help="the contact's wa_id (phone number) or user id")
    forget.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    forget.set_defaults(handler=_forget_command)


def _forget_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_TABLE, OUTPUT_BUCKET])
    wa_id: str = args.wa_id
    client = TableClient(target.table())
    s3 = target.client("s3")
    bucket = target.payload_bucket
    try:
        out.counter(f"searching table {target.table_name} (one Scan) for {wa_id}")
        plan = plan_erasure(client, wa_id, lambda b, k: _read(s3, b, k))
        objects = _objects(plan, s3, bucket, wa_id)
        out.counter_done()
    except (TableUnavailableError, BotoCoreError, ClientError) as exc:
        raise ForgetError(f"cannot search {target.description} ({_why(exc)})") from exc
    counts = plan.counts()
    document: dict[str, Any] = {
        "target": target.description,
        "wa_id": wa_id,
        "dry_run": args.dry_run,
        "items": [{"kind": item_kind(item), "pk": item["pk"], "sk": item["sk"]} for item in plan.deletions],
        "unlinked_profiles": [item["pk"] for item in plan.unlink],
        "objects": objects,
        "removed": dict(counts),
        "tombstone": None,
    }
    if plan.empty and not objects:
        out.result(
            document,
            [f"Nothing of {wa_id} is stored in {target.description}: already forgotten, or never seen."],
        )
        return 0
    lines = _listing(plan, objects, counts, wa_id, target, dry_run=args.dry_run)
    if args.dry_run:
        out.result(document, lines)
        return 0
    try:
        erasure_id = start_tombstone(client, counts, len(objects))
        for profile in plan.unlink:
            unlink(client, profile, wa_id)
        _delete_objects(s3, [(p.bucket, p.key) for p in plan.spilled])
        delete_items(client, plan.deletions)
        _delete_objects(
            s3, [(bucket, key) for key in objects if not key.startswith("spilled/")] if bucket else []
        )
        finish_tombstone(client, erasure_id)
    except (TableUnavailableError, BotoCoreError, ClientError) as exc:
        raise ForgetError(
            f"the erasure of {wa_id} stopped ({_why(exc)}); what was deleted stays deleted: "
            f"run wactl forget {wa_id} again to finish"
        ) from exc
    document["tombstone"] = erasure_id
    lines.append(
        f"Removed. Tombstone {tombstone_pk(erasure_id)} (no personal data). A second run finds nothing."
    )
    out.result(document, lines)
    return 0


def _listing(
    plan: ErasurePlan, objects: list[str], counts: Counter[str], wa_id: str, target: Target, *, dry_run: bool
) -> list[str]:
    verb = "Would remove" if dry_run else "Removing"
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())) or "no items"
    lines = [f"{verb} from {target.description}, of {wa_id}: {summary}; {len(objects)} objects"]
    rows = [[item_kind(item), str(item["pk"]), str(item["sk"])] for item in plan.deletions]
    if rows:
        lines += table(["KIND", "PK", "SK"], rows)
    for profile in plan.unlink:
        lines.append(f"Unlinking the number from profile {plain(profile['pk'])} (number change)")
    lines += [f"Object {key}" for key in objects]
    return lines


def _objects(plan: ErasurePlan, s3: Any, bucket: str | None, wa_id: str) -> list[str]:
    """The bucket's objects to delete: those the plan's items point to, and any other raw body that
    mentions the contact (left by an interrupted run, or never archived in the table)."""
    keys = {pointer.key for pointer in [*plan.spilled, *plan.payloads]}
    keys |= {key for media_bucket, key in plan.media if media_bucket == bucket}
    if bucket:
        for prefix in PAYLOAD_PREFIXES:
            for key in _list(s3, bucket, prefix):
                if key in keys:
                    continue
                body = _read(s3, bucket, key)
                if body is not None and mentions(body.decode("utf-8", errors="replace"), wa_id):
                    keys.add(key)
    return sorted(keys)


def _list(s3: Any, bucket: str, prefix: str) -> Iterable[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            yield str(entry["Key"])


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def _delete_objects(s3: Any, objects: list[tuple[str, str]]) -> None:
    for bucket, key in objects:
        s3.delete_object(Bucket=bucket, Key=key)  # a missing object is no error


def _why(exc: Exception) -> str:
    cause = exc.__cause__ if isinstance(exc, TableUnavailableError) else None
    return reason(cause) if isinstance(cause, Exception) else reason(exc)
