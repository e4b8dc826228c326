"""What a queued or archived webhook holds, in a few words: enough to tell payloads apart."""

from __future__ import annotations

import json
from collections import Counter

from wacloud.webhook.envelope import QueuedWebhook

PREVIEW_CHARS = 80


def summarize(webhook: QueuedWebhook) -> str:
    """What a queued webhook holds, in a few words: enough to tell dead letters apart."""
    body = webhook.body
    if webhook.in_bucket:
        try:
            pointer = webhook.pointer()
        except (ValueError, KeyError, TypeError):
            return f"unreadable payload pointer: {_preview(body)}"
        return f"payload in s3://{pointer.bucket}/{pointer.key} ({pointer.size:,} bytes)"
    try:
        data = json.loads(body)
    except ValueError:
        return f"not JSON: {_preview(body)}"
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        return f"not a WhatsApp webhook: {_preview(body)}"
    messages: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    malformed = False
    entries = data.get("entry")
    if not isinstance(entries, list):
        return f"webhook with a malformed entry: {_preview(body)}"
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            malformed = True
            continue
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                malformed = True
                continue
            if change.get("field") != "messages":
                fields[str(change.get("field"))] += 1
                continue
            messages.update(
                str(m.get("type")) if isinstance(m, dict) else "?" for m in value.get("messages") or []
            )
            statuses.update(
                str(s.get("status")) if isinstance(s, dict) else "?" for s in value.get("statuses") or []
            )
            if value.get("errors"):
                fields["errors"] += 1
    parts = [
        phrase
        for phrase in (
            _counted(messages, "message"),
            _counted(statuses, "status"),
            _counted(fields, "other field"),
        )
        if phrase
    ]
    if malformed:
        parts.append("malformed changes")
    return "webhook: " + (", ".join(parts) if parts else "no updates")


def _counted(counter: Counter[str], noun: str) -> str:
    total = sum(counter.values())
    if not total:
        return ""
    kinds = ", ".join(name if count == 1 else f"{name} x{count}" for name, count in sorted(counter.items()))
    plural = noun if total == 1 else ("statuses" if noun == "status" else f"{noun}s")
    return f"{total} {plural} ({kinds})"


def _preview(body: str) -> str:
    text = " ".join(body.split())
    return repr(text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "...")
