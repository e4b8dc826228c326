"""``wactl conversation`` and ``wactl message``: what the table holds about a contact and a message.

The conversation is the contact's messages in both directions (what they sent, from their
partition; what was sent to them, through index ``gsi1``), with the profile the sender decides
by: the 24-hour customer service window and the consent keywords.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from wacloud.meta.media import MEDIA_TYPES
from wacloud.sender.policy import window_open
from wacloud.table.media import media_view
from wacloud.table.store import WINDOW_SECONDS
from wactl.arguments import positive_int
from wactl.errors import WactlError
from wactl.output import Output, ago, plain, shorten, table, utc
from wactl.records import Records, error_text, errors_of
from wactl.target import OUTPUT_TABLE, from_arguments

DEFAULT_LIMIT = 50
TEXT_CHARS = 60


class NotFoundError(WactlError):
    """Nothing is stored under the id asked for."""


# ------------------------------------------------------------------------------ what is shown
def status_of(item: dict[str, Any]) -> str:
    """An outbound message's current status: the latest webhook's, else the sender's acceptance."""
    if item.get("direction") == "inbound":
        return "-"
    return str(item.get("status") or item.get("accepted_status") or "-")


def profile_summary(
    profile: dict[str, Any] | None, now: float, messages: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The profile as the sender reads it (same window rule), for people and scripts alike; with
    the listed ``messages``, the window of each business number they were sent to."""
    profile = profile or {}
    latest: dict[str, int] = {str(n): int(at) for n, at in (profile.get("windows") or {}).items() if n}
    for item in messages or []:
        number = item.get("phone_number_id")
        if item.get("direction") == "inbound" and item.get("type") != "system" and number:
            latest[str(number)] = max(latest.get(str(number), 0), int(item.get("timestamp") or 0))
    last = profile.get("last_inbound_at")
    opted = profile.get("opted_in")
    return {
        "name": profile.get("profile_name"),
        "last_inbound_at": plain(last),
        "window": "open" if window_open(profile, now) else "closed",
        "window_closes_at": None if last is None else int(last) + WINDOW_SECONDS,
        "consent": "unknown" if opted is None else ("opted_in" if opted else "opted_out"),
        "consent_reason": profile.get("consent_reason"),
        "consent_at": plain(profile.get("consent_at")),
        "marketing_stopped_at": plain(profile.get("marketing_stopped_at")),
        "marketing": _marketing_state(profile),
        "marketing_reason": profile.get("marketing_reason"),
        "changed_to": profile.get("changed_to"),
        "previous_wa_ids": plain(profile.get("previous_wa_ids") or []),
        "last_inbound_number": profile.get("last_inbound_number"),
        "user_id": profile.get("user_id"),
        "username": profile.get("username"),
        "windows": {
            number: "open" if now - at < WINDOW_SECONDS else "closed" for number, at in sorted(latest.items())
        },
    }


def _marketing_state(profile: dict[str, Any]) -> str:
    """``stopped`` (a 131050 failure or the contact's stop), ``resumed`` (the contact's resume
    since), or ``not_stopped`` (never stopped): what the sender decides marketing templates by."""
    stopped = profile.get("marketing_stopped")
    if stopped is None:
        return "not_stopped"
    return "stopped" if stopped else "resumed"


def profile_lines(summary: dict[str, Any], now: float) -> list[str]:
    last = summary["last_inbound_at"]
    closes = summary["window_closes_at"]
    if last is None:
        window = "closed: the contact never wrote (templates only)"
    elif summary["window"] == "open":
        window = f"open, closes {utc(closes)} UTC (in {ago(closes - now)})"
    else:
        window = f"closed since {utc(closes)} UTC (templates only)"
    consent = {
        "unknown": "no consent keyword (not opted in, not opted out)",
        "opted_in": "opted in",
        "opted_out": "opted out (no templates until START)",
    }[summary["consent"]]
    if summary["consent_at"] is not None:
        consent += f": {summary['consent_reason']} at {utc(summary['consent_at'])} UTC"
    lines = [
        f"  name          {summary['name'] or '-'}",
        "  last inbound  " + ("-" if last is None else f"{utc(last)} UTC ({ago(now - last)} ago)"),
        f"  window        {window}",
        f"  consent       {consent}",
    ]
    if summary["marketing_stopped_at"] is not None:
        why = {
            "preference:stop": "the contact stopped them",
            "preference:resume": "the contact resumed them",
        }.get(str(summary["marketing_reason"]), "131050")
        state = "stopped" if summary["marketing"] == "stopped" else "resumed"
        lines.append(f"  marketing     {state} ({why}) at {utc(summary['marketing_stopped_at'])} UTC")
    else:
        lines.append("  marketing     not stopped")
    if summary["user_id"] or summary["username"]:
        known = [f"business-scoped id {summary['user_id']}"] if summary["user_id"] else []
        known += [f"username {summary['username']}"] if summary["username"] else []
        lines.append(f"  known by      {', '.join(known)}")
    if summary["last_inbound_number"]:
        lines.append(f"  wrote to      business number {summary['last_inbound_number']} (replies go from it)")
    if len(summary["windows"]) > 1:
        per_number = ", ".join(f"{number} {state}" for number, state in summary["windows"].items())
        lines.append(f"  windows       {per_number}")
    if summary["changed_to"]:
        lines.append(f"  number        changed to {summary['changed_to']}")
    if summary["previous_wa_ids"]:
        lines.append(f"  previously    {', '.join(summary['previous_wa_ids'])}")
    return lines


def media_lines(messages: list[dict[str, Any]]) -> list[str]:
    """Where the media of the listed messages are: the bucket's object, or why there is none."""
    rows = []
    for item in messages:
        if item.get("direction") != "inbound" or item.get("type") not in MEDIA_TYPES:
            continue
        media = item.get("media") or {}
        state = str(media.get("state") or "pending")
        where = media.get("s3_uri") or media.get("reason") or "not kept yet"
        size = f"{int(media['size'])} bytes" if media.get("size") is not None else "-"
        rows.append(
            [str(item.get("wamid", "-")), state, str(media.get("mime_type") or "-"), size, str(where)]
        )
    if not rows:
        return []
    return [
        "",
        "Media (wactl media get <wamid> downloads one):",
        *table(["WAMID", "STATE", "TYPE", "SIZE", "WHERE"], rows),
    ]


# ------------------------------------------------------------------------------ command line
def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    conversation = commands.add_parser(
        "conversation",
        parents=[common],
        help="a contact's messages in time order, and their profile",
        description="A contact's latest messages in both directions, oldest first, with the profile "
        "the sender decides by: name, last inbound message, 24-hour window, consent.",
    )
    conversation.add_argument("wa_id", help="the contact's WhatsApp id (phone number), e.g. 16505551234")
    conversation.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show the latest N messages (default {DEFAULT_LIMIT})",
    )
    conversation.set_defaults(handler=_conversation_command)

    message = commands.add_parser(
        "message",
        parents=[common],
        help="a message and its status history",
        description="A message by its wamid: what it is, its current status and every status "
        "webhook received for it (time, status, error codes, pricing category).",
    )
    message.add_argument("wamid", help="the message id, e.g. wamid.HBgL...")
    message.add_argument(
        "--contact",
        metavar="WA_ID",
        help="who sent it, for a message a contact sent (kept with the contact's messages, found "
        "by sender and wamid); messages sent to contacts need only the wamid",
    )
    message.set_defaults(handler=_message_command)


def _conversation_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    records = Records(target.table())
    # A business-scoped id Meta linked to a number is that number's contact.
    wa_id = records.contact_of(args.wa_id.lstrip("+"))
    profile = records.profile(wa_id)
    messages = records.conversation(wa_id, args.limit)
    if profile is None and not messages:
        raise NotFoundError(
            f"nothing stored for contact {wa_id} in {target.table_name} ({target.description})"
        )
    now = time.time()
    summary = profile_summary(profile, now, messages)
    for item in messages:
        media = media_view(item.get("media"))
        if media is not None:
            item["media"] = media
    document = {
        "target": target.description,
        "wa_id": wa_id,
        "summary": summary,
        "profile": plain(profile),
        "messages": [plain(item) for item in messages],
    }
    lines = [f"Contact {wa_id} ({target.description})"]
    lines += profile_lines(summary, now) if profile is not None else ["  no profile: the contact never wrote"]
    lines.append("")
    if not messages:
        lines.append("No messages.")
    else:
        count = len(messages)
        lines.append(f"Latest {'message' if count == 1 else f'{count} messages, oldest first'}:")
        # Which business number each message went through, once the contact used more than one.
        numbers = {str(item["phone_number_id"]) for item in messages if item.get("phone_number_id")}
        by_number = len(numbers) > 1
        rows = [
            [
                utc(item.get("timestamp")),
                "in" if item.get("direction") == "inbound" else "out",
                *([str(item.get("phone_number_id") or "-")] if by_number else []),
                str(item.get("type", "-")),
                status_of(item),
                str(item.get("wamid", "-")),
                shorten(str(item.get("text") or ""), TEXT_CHARS),
            ]
            for item in messages
        ]
        header = ["TIME (UTC)", "DIR", *(["NUMBER"] if by_number else []), "TYPE", "STATUS", "WAMID", "TEXT"]
        lines += table(header, rows)
        lines += media_lines(messages)
    out.result(document, lines)
    return 0


def _message_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    records = Records(target.table())
    contact = args.contact.lstrip("+") if args.contact else None
    found = records.message(args.wamid)
    if found is None and contact is not None:
        found = records.inbound_message(contact, args.wamid)
    if found is None:
        where = f"{target.table_name} ({target.description})"
        if contact is not None:
            raise NotFoundError(f"no message {args.wamid} from or to {contact} in {where}")
        raise NotFoundError(
            f"no message {args.wamid} in {where} sent to a contact; one a contact sent is kept "
            "with the contact's messages: add --contact <wa_id> (the sender's number, as "
            "`wactl conversation` lists it)"
        )
    history = found.pop("history")
    document = {
        "target": target.description,
        "wamid": args.wamid,
        "message": plain(found),
        "history": [plain(event) for event in history],
    }
    direction = found.get("direction")
    contact = found.get("wa_id") or found.get("recipient_id") or "-"
    lines = [f"Message {args.wamid} ({target.description})"]
    if direction is None:
        # Status webhooks arrived but the sender's record did not (sent from elsewhere, or not yet).
        lines.append(f"  direction     outbound to {contact} (no sender record)")
    else:
        lines.append(f"  direction     {direction} {'from' if direction == 'inbound' else 'to'} {contact}")
    for label, value in (
        ("type", found.get("type")),
        ("time", f"{utc(found['timestamp'])} UTC" if "timestamp" in found else None),
        ("text", found.get("text")),
        ("reply to", found.get("reply_to")),
        ("idempotency", found.get("idempotency_key")),
    ):
        if value is not None:
            lines.append(f"  {label:<13} {value}")
    if direction != "inbound":
        at = f" at {utc(found['status_at'])} UTC" if "status_at" in found else ""
        lines.append(f"  status        {status_of(found)}{at}")
    errors = errors_of(found)
    if errors:
        lines.append(f"  errors        {error_text(errors)}")
    lines.append("")
    if not history:
        lines.append("No status webhooks." if direction != "inbound" else "Inbound: no status history.")
    else:
        lines.append("Status history, oldest first:")
        rows = [
            [
                utc(event.get("timestamp")),
                str(event.get("status", "-")),
                str(event.get("pricing_category") or "-"),
                error_text(errors_of(event)),
            ]
            for event in history
        ]
        lines += table(["TIME (UTC)", "STATUS", "PRICING", "ERRORS"], rows)
    out.result(document, lines)
    return 0
