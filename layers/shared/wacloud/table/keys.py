"""The single table's key scheme (docs/data-model.md): the only place keys are spelled out.

Partition keys name the entity (``CONTACT#``, ``MSG#``, ``RAW#``, ...); sort keys order what lives
under it. Index ``gsi1`` lists a contact's conversation and a day's raw payloads, ``gsi2`` the
failed messages of a day, and ``consent`` the profiles that ever sent a consent keyword.
"""

from __future__ import annotations

import time

PK = "pk"
SK = "sk"
CONVERSATION_INDEX = "gsi1"
FAILED_INDEX = "gsi2"
CONSENT_INDEX = "consent"
INDEX_PARTITION_KEYS = {CONVERSATION_INDEX: "gsi1pk", FAILED_INDEX: "gsi2pk"}

PROFILE_SK = "PROFILE"
MESSAGE_SK = "MESSAGE"
RAW_SK = "RAW"
CLAIM_SK = "CLAIM"
FAILED_SEND_SK = "FAILED"
RUN_SK = "RUN"
STATUS_SK_PREFIX = "STATUS#"

_CONTACT = "CONTACT#"


def contact_pk(wa_id: str) -> str:
    return f"{_CONTACT}{wa_id}"


def wa_id_of(contact_key: str) -> str:
    return contact_key.removeprefix(_CONTACT)


def message_pk(wamid: str) -> str:
    return f"MSG#{wamid}"


def raw_pk(sha256: str) -> str:
    return f"RAW#{sha256}"


def raw_day_pk(day: str) -> str:
    """gsi1: the raw payloads received on a day."""
    return f"RAW#{day}"


def failed_day_pk(day: str) -> str:
    """gsi2: the failed messages and sends of a day."""
    return f"FAILED#{day}"


def event_pk(field_name: str) -> str:
    return f"EVENT#{field_name}"


def idempotency_pk(key: str) -> str:
    return f"IDEMPOTENCY#{key}"


def failed_send_pk(send_id: str) -> str:
    return f"SEND#{send_id}"


def reminder_run_pk(date: str) -> str:
    return f"REMINDER_RUN#{date}"


def status_sk(timestamp: int, status: str) -> str:
    return f"{STATUS_SK_PREFIX}{time_key(timestamp, status)}"


def time_key(timestamp: int, tiebreak: str) -> str:
    """Sortable as a string: zero-padded epoch seconds, then a tiebreaker for equal seconds."""
    return f"{timestamp:010d}#{tiebreak}"


def day_of(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))
