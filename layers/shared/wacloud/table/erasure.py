"""Erasing a contact from the table (``wactl forget``): every item that is theirs or names them.

What belongs to a contact, by the key scheme (docs/data-model.md):

- their partition ``CONTACT#<wa_id>``: the profile and every message they sent;
- each message sent to them, ``MSG#<wamid>`` (the sender's record and the status facet, the
  status history): found by its ``recipient_id`` or ``wa_id``, whether or not the sender's
  record (and its ``gsi1`` entry) exists;
- failed sends to them (``SEND#<id>``), idempotency claims whose key or result names them or one
  of their messages (a reminder's key is ``reminder:<date>:<wa_id>``);
- raw payloads that mention them (``RAW#<sha256>``: the archive, its untyped parts and its failure
  note), events of other fields whose value mentions them (``user_preferences``, ...);
- messages of other contacts that name them (a contact card with their number, the notice of a
  number change to theirs); on other contacts' profiles, the number-change links to them
  (``changed_to``, ``previous_wa_ids``), which are removed rather than the profiles.

A payload "mentions" a contact when a string in it equals their wa_id (a leading ``+`` aside) or
an id-like token of it does. The search is one Scan of the table (read units for all of it: an
erasure is rare and must be complete, and no index lists all of this). Bodies kept in the bucket
are read through ``read_object`` to decide.

Items are deleted children first, anchors last (status history before the message item, untyped
parts before the archive, claims before the messages their results name), so an erasure stopped
half-way finds what is left on the next run from what still stands: erasing is idempotent and
resumable, and a run that finds nothing changes nothing. A finished erasure leaves a tombstone
(``FORGOTTEN#<id>``) with the time and the counts, and nothing that identifies the contact.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from wacloud.table.client import TableClient
from wacloud.table.keys import (
    CLAIM_SK,
    FAILURE_SK,
    INBOUND_SK_PREFIX,
    MESSAGE_SK,
    PROFILE_SK,
    RAW_SK,
    STATUS_SK_PREFIX,
    TOMBSTONE_SK,
    contact_pk,
    is_contact_key,
    is_event_key,
    is_failed_send_key,
    is_idempotency_key,
    is_message_key,
    is_raw_key,
    pair_pace_contact,
    tombstone_pk,
    wamid_of,
)
from wacloud.table.spill import POINTER_SUFFIX, SPILL_PREFIX
from wacloud.webhook.envelope import PayloadPointer

SCAN_PAGE = 1000
# Attributes whose text is JSON that may name the contact.
_JSON_ATTRIBUTES = ("raw", "body", "request", "result", "contact", "status_errors")
_TOKEN = re.compile(r"[A-Za-z0-9_.]+")

ReadObject = Callable[[str, str], bytes | None]
"""Reads an object of the bucket (bucket, key); None when it no longer exists."""


def mentions(value: Any, wa_id: str) -> bool:
    """Whether ``value`` (JSON text, or a value parsed from it) names the contact."""
    if isinstance(value, str):
        text = value.strip()
        if text.removeprefix("+") == wa_id:
            return True
        if text[:1] in ("{", "[") and wa_id in text:
            try:
                return mentions(json.loads(text), wa_id)
            except ValueError:
                pass
        return wa_id in text and any(token.removeprefix("+") == wa_id for token in _TOKEN.findall(text))
    if isinstance(value, Mapping):
        return any(mentions(key, wa_id) or mentions(item, wa_id) for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(mentions(item, wa_id) for item in value)
    return False


@dataclass
class ErasurePlan:
    """What one run found: items to delete, in order, and profiles to unlink."""

    wa_id: str
    deletions: list[dict[str, Any]] = field(default_factory=list)
    """The items to delete (their full contents, for the listing), in deletion order."""
    unlink: list[dict[str, Any]] = field(default_factory=list)
    """Other contacts' profiles whose number-change links name the contact."""
    spilled: list[PayloadPointer] = field(default_factory=list)
    """Objects the deleted items' attributes were spilled to."""
    payloads: list[PayloadPointer] = field(default_factory=list)
    """Bodies of the deleted raw payloads kept in the bucket."""
    media: list[tuple[str, str]] = field(default_factory=list)
    """Media the contact sent, kept in the bucket (bucket, key), that no other item refers to."""

    @property
    def empty(self) -> bool:
        return not self.deletions and not self.unlink

    def counts(self) -> Counter[str]:
        return Counter(item_kind(item) for item in self.deletions)


def item_kind(item: Mapping[str, Any]) -> str:
    """What an item is, for people: ``profile``, ``inbound message``, ``status``, ..."""
    pk, sk = str(item["pk"]), str(item["sk"])
    if is_contact_key(pk):
        return "profile" if sk == PROFILE_SK else "inbound message"
    if is_message_key(pk):
        return "status" if sk.startswith(STATUS_SK_PREFIX) else "outbound message"
    if is_raw_key(pk):
        return {RAW_SK: "raw payload", FAILURE_SK: "failure note"}.get(sk, "untyped part")
    if is_failed_send_key(pk):
        return "failed send"
    if is_idempotency_key(pk):
        return "idempotency claim"
    if is_event_key(pk):
        return "event"
    if pair_pace_contact(pk) is not None:
        return "send line"
    return "other"


def plan_erasure(table: TableClient, wa_id: str, read_object: ReadObject) -> ErasurePlan:
    """Everything of ``wa_id`` the table holds, found by one Scan."""
    own = contact_pk(wa_id)
    by_partition: dict[str, list[dict[str, Any]]] = {}
    wamids: set[str] = set()
    raws: set[str] = set()
    claims: list[dict[str, Any]] = []
    singles: list[dict[str, Any]] = []  # items of shared partitions (events) or of their own (sends)
    plan = ErasurePlan(wa_id)
    # Media objects are content-addressed: the same picture sent by two contacts is one object,
    # deleted only when no item kept refers to it.
    media_holders: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for item in _scan(table):
        pk = str(item["pk"])
        _note_media(media_holders, item)
        if is_message_key(pk):
            by_partition.setdefault(pk, []).append(item)
            if wa_id in (item.get("recipient_id"), item.get("wa_id")):
                wamids.add(pk)
        elif is_raw_key(pk):
            by_partition.setdefault(pk, []).append(item)
            if item["sk"] == RAW_SK and _payload_mentions(item, wa_id, read_object):
                raws.add(pk)
        elif is_idempotency_key(pk) and item["sk"] == CLAIM_SK:
            claims.append(item)
        elif pk == own:
            by_partition.setdefault(pk, []).append(item)
        elif _single_of(pk, item, wa_id):
            singles.append(item)
        elif is_contact_key(pk) and str(item["sk"]).startswith(INBOUND_SK_PREFIX):
            if _mentions(item, wa_id):  # a contact card of them, a number-change notice naming them
                singles.append(item)
        elif is_contact_key(pk) and _links_to(item, wa_id):
            plan.unlink.append(item)
    sent = {wamid_of(pk) for pk in wamids}
    # Claims first: their results are what ties them to the messages deleted after them.
    plan.deletions += [
        claim
        for claim in claims
        if _mentions(claim, wa_id)
        or _result_message(claim) in sent
        or mentions(claim.get("idempotency_key"), wa_id)
    ]
    plan.deletions += singles
    for pk in sorted(wamids | raws):
        # The anchor (the message item, the archive) last: it is how the rest is found again.
        plan.deletions += sorted(by_partition[pk], key=lambda item: item["sk"] in (MESSAGE_SK, RAW_SK))
    plan.deletions += sorted(by_partition.get(own, []), key=lambda item: str(item["sk"]))
    plan.spilled = [pointer for item in plan.deletions for pointer in _spilled(item)]
    deleted = {(str(item["pk"]), str(item["sk"])) for item in plan.deletions}
    plan.media = sorted(
        location for location, holders in media_holders.items() if holders & deleted and holders <= deleted
    )
    plan.payloads = [
        PayloadPointer.from_json(str(item["body_s3"]))
        for item in plan.deletions
        if item["sk"] == RAW_SK and isinstance(item.get("body_s3"), str)
    ]
    return plan


def unlink(table: TableClient, profile: Mapping[str, Any], wa_id: str) -> None:
    """Take the contact's number off another contact's number-change links."""
    key = {"pk": profile["pk"], "sk": profile["sk"]}
    if profile.get("changed_to") == wa_id:
        table.update(key, UpdateExpression="REMOVE changed_to")
    if wa_id in (profile.get("previous_wa_ids") or ()):
        table.update(
            key, UpdateExpression="DELETE previous_wa_ids :old", ExpressionAttributeValues={":old": {wa_id}}
        )


def delete_items(table: TableClient, items: Iterable[Mapping[str, Any]]) -> None:
    """Delete in the order given, 25 at a time (a batch finishes before the next starts)."""
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append({"pk": item["pk"], "sk": item["sk"]})
        if len(batch) == 25:
            table.batch_delete(batch)
            batch = []
    if batch:
        table.batch_delete(batch)


def start_tombstone(
    table: TableClient, counts: Mapping[str, int], objects: int, clock: Callable[[], float] = time.time
) -> str:
    """Record, before deleting anything, that a contact is being erased and what will go, without
    anything that identifies them; :func:`finish_tombstone` marks it done. Written first, so that a
    run stopped after its last deletion still leaves one (a later run finds nothing to add)."""
    erasure_id = uuid.uuid4().hex
    table.put(
        {
            "pk": tombstone_pk(erasure_id),
            "sk": TOMBSTONE_SK,
            "erasure_id": erasure_id,
            "state": "erasing",
            "started_at": int(clock()),
            "removed": {kind: int(count) for kind, count in counts.items()},
            "objects_removed": objects,
        }
    )
    return erasure_id


def finish_tombstone(table: TableClient, erasure_id: str, clock: Callable[[], float] = time.time) -> None:
    table.update(
        {"pk": tombstone_pk(erasure_id), "sk": TOMBSTONE_SK},
        UpdateExpression="SET #state = :done, forgotten_at = :now",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":done": "erased", ":now": int(clock())},
    )


def _scan(table: TableClient) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"Limit": SCAN_PAGE, "ConsistentRead": True}
    while True:
        page = table.scan_page(**request)
        yield from (dict(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _single_of(pk: str, item: Mapping[str, Any], wa_id: str) -> bool:
    """A failed send or an event of the contact's, or their send line (their number is its key)."""
    if pair_pace_contact(pk) == wa_id:
        return True
    return (is_failed_send_key(pk) or is_event_key(pk)) and (
        item.get("wa_id") == wa_id or _mentions(item, wa_id)
    )


def _note_media(holders: dict[tuple[str, str], set[tuple[str, str]]], item: Mapping[str, Any]) -> None:
    """Which items refer to each media object kept in the bucket."""
    media = item.get("media")
    if (
        isinstance(media, Mapping)
        and isinstance(media.get("bucket"), str)
        and isinstance(media.get("key"), str)
    ):
        location = (str(media["bucket"]), str(media["key"]))
        holders.setdefault(location, set()).add((str(item["pk"]), str(item["sk"])))


def _mentions(item: Mapping[str, Any], wa_id: str) -> bool:
    return any(mentions(item.get(name), wa_id) for name in _JSON_ATTRIBUTES if name in item)


def _payload_mentions(item: Mapping[str, Any], wa_id: str, read_object: ReadObject) -> bool:
    if _mentions(item, wa_id):
        return True
    pointer = item.get("body_s3")
    if isinstance(pointer, str):
        try:
            found = PayloadPointer.from_json(pointer)
        except (ValueError, KeyError, TypeError):
            return False
        body = read_object(found.bucket, found.key)
        return body is not None and mentions(body.decode("utf-8", errors="replace"), wa_id)
    return False


def _links_to(profile: Mapping[str, Any], wa_id: str) -> bool:
    return profile.get("changed_to") == wa_id or wa_id in (profile.get("previous_wa_ids") or ())


def _result_message(claim: Mapping[str, Any]) -> str | None:
    try:
        result = json.loads(str(claim.get("result") or "{}"))
    except ValueError:
        return None
    message_id = result.get("message_id") if isinstance(result, dict) else None
    return message_id if isinstance(message_id, str) else None


def _spilled(item: Mapping[str, Any]) -> list[PayloadPointer]:
    pointers = []
    for name, value in item.items():
        if name.endswith(POINTER_SUFFIX) and name != "body_s3" and isinstance(value, str):
            try:
                pointer = PayloadPointer.from_json(value)
            except (ValueError, KeyError, TypeError):
                continue
            if pointer.key.startswith(SPILL_PREFIX):
                pointers.append(pointer)
    return pointers
