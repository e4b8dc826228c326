"""The single table's key scheme (docs/data-model.md): the only place keys are spelled out.

Partition keys name the entity (``CONTACT#``, ``MSG#``, ``RAW#``, ...); sort keys order what lives
under it. A contact's partition holds its profile and the messages it sent (``MSG#<ts>#<wamid>``,
in time order); an outbound message has its own partition (``MSG#<wamid>``), which its status
webhooks name. Index ``gsi1`` (keys only) joins the outbound messages to their contact and lists a
day's raw payloads, ``gsi2`` the failed messages of a day and the payloads rejected on a day, and
``consent`` the profiles that ever sent a consent keyword.
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
PACE_SK = "PACE"
FAILURE_SK = "FAILURE"
TOMBSTONE_SK = "TOMBSTONE"
USER_LINK_SK = "LINK"
STATUS_SK_PREFIX = "STATUS#"
INBOUND_SK_PREFIX = "MSG#"
UNTYPED_SK_PREFIX = "UNTYPED#"
# Epoch seconds in keys have 10 digits: up to 2286-11-20.
MAX_KEY_SECONDS = 9_999_999_999

_CONTACT = "CONTACT#"
_MESSAGE = "MSG#"
_RAW = "RAW#"
_EVENT = "EVENT#"
_IDEMPOTENCY = "IDEMPOTENCY#"
_SEND = "SEND#"


def contact_pk(wa_id: str) -> str:
    return f"{_CONTACT}{wa_id}"


def wa_id_of(contact_key: str) -> str:
    return contact_key.removeprefix(_CONTACT)


def user_link_pk(user_id: str) -> str:
    """A business-scoped user id's link to the phone number of the same contact (``USER_LINK_SK``)."""
    return f"USER#{user_id}"


def message_pk(wamid: str) -> str:
    return f"{_MESSAGE}{wamid}"


def wamid_of(message_key: str) -> str:
    return message_key.removeprefix(_MESSAGE)


def raw_pk(sha256: str) -> str:
    return f"{_RAW}{sha256}"


def sha256_of(raw_key: str) -> str:
    return raw_key.removeprefix(_RAW)


def is_contact_key(pk: str) -> bool:
    return pk.startswith(_CONTACT)


def is_message_key(pk: str) -> bool:
    return pk.startswith(_MESSAGE)


def is_raw_key(pk: str) -> bool:
    return pk.startswith(_RAW)


def is_event_key(pk: str) -> bool:
    return pk.startswith(_EVENT)


def is_failed_send_key(pk: str) -> bool:
    return pk.startswith(_SEND)


def is_idempotency_key(pk: str) -> bool:
    return pk.startswith(_IDEMPOTENCY)


def seconds_of_event_sk(sk: str) -> int | None:
    """The entry time an event's sort key starts with (``<time>#<entry id>#<sha256>``)."""
    head = sk.partition("#")[0]
    return int(head) if head.isdigit() else None


def raw_day_pk(day: str) -> str:
    """gsi1: the raw payloads received on a day."""
    return f"RAW#{day}"


def failed_day_pk(day: str) -> str:
    """gsi2: the failed messages and sends of a day."""
    return f"FAILED#{day}"


def rejected_day_pk(day: str) -> str:
    """gsi2: the payloads rejected on a day (by day of receipt) that await an operator."""
    return f"REJECTED#{day}"


def untyped_sk(path: str) -> str:
    """Under ``RAW#<sha256>``: a part of that payload the models could not type."""
    return f"{UNTYPED_SK_PREFIX}{path}"


def event_pk(field_name: str) -> str:
    return f"{_EVENT}{field_name}"


def idempotency_pk(key: str) -> str:
    return f"{_IDEMPOTENCY}{key}"


def failed_send_pk(send_id: str) -> str:
    return f"{_SEND}{send_id}"


def tombstone_pk(erasure_id: str) -> str:
    """An erased contact's tombstone: an id of its own, nothing of the contact."""
    return f"FORGOTTEN#{erasure_id}"


def reminder_run_pk(date: str) -> str:
    return f"REMINDER_RUN#{date}"


def pace_pk(phone_number_id: str) -> str:
    """The send line of a business phone number (:mod:`wacloud.table.pacing`)."""
    return f"PACE#{phone_number_id}"


def pair_pace_pk(phone_number_id: str, wa_id: str) -> str:
    """The send line of one contact on a business phone number (:mod:`wacloud.table.pacing`)."""
    return f"PACE#{phone_number_id}#{wa_id}"


def pair_pace_contact(pk: str) -> str | None:
    """The contact whose send line ``pk`` is, or None when it is no contact's line."""
    number, separator, wa_id = pk.removeprefix("PACE#").partition("#")
    return wa_id if pk.startswith("PACE#") and number and separator and wa_id else None


TEMPLATES_PK = "TEMPLATES"
"""The template catalog's partition: one query reads it all (:mod:`wacloud.table.templates`)."""
TEMPLATE_SYNC_SK = "SYNC"
TEMPLATE_SK_PREFIX = "TEMPLATE#"


def template_sk(name: str, language: str) -> str:
    """Under ``TEMPLATES``: one approved (or paused, ...) template in one language."""
    return f"{TEMPLATE_SK_PREFIX}{name}#{language}"


def inbound_sk(timestamp: int, wamid: str) -> str:
    """Under ``CONTACT#<wa_id>``: a message the contact sent, in time order (then by wamid)."""
    return f"{INBOUND_SK_PREFIX}{time_key(timestamp, wamid)}"


def inbound_of(sk: str) -> tuple[int, str]:
    """The time and wamid an inbound message's sort key holds."""
    seconds, _, wamid = sk.removeprefix(INBOUND_SK_PREFIX).partition("#")
    return int(seconds), wamid


def status_sk(timestamp: int, status: str) -> str:
    return f"{STATUS_SK_PREFIX}{time_key(timestamp, status)}"


def time_key(timestamp: int, tiebreak: str) -> str:
    """Sortable as a string: zero-padded epoch seconds, then a tiebreaker for equal seconds."""
    return f"{seconds_key(timestamp)}#{tiebreak}"


def seconds_key(timestamp: int) -> str:
    """Epoch seconds as 10 digits, so that string order is time order.

    A time outside them (negative, or milliseconds sent as seconds) is clamped: a longer or signed
    number would sort out of place among the others.
    """
    return f"{min(max(int(timestamp), 0), MAX_KEY_SECONDS):010d}"


def day_of(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))
