"""Identifiers shaped like Meta's, always fresh (never derived from the simulator's seed)."""

from __future__ import annotations

import base64
import secrets


def new_wamid(wa_id: str) -> str:
    """``wamid.`` + base64 of the same framing Meta uses: the contact's number, then a random id."""
    number = wa_id.encode("ascii", "replace")[:255]
    local_id = secrets.token_hex(10).upper().encode("ascii")
    raw = (
        b"\x1c\x18"
        + bytes([len(number)])
        + number
        + b"\x15\x02\x00\x11\x18"
        + bytes([len(local_id)])
        + local_id
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode("ascii")


def new_conversation_id() -> str:
    return secrets.token_hex(16)
