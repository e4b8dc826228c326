"""The DynamoDB single table's conversation items: messages, status history, contacts, raw payloads.

Every write is idempotent and independent of arrival order, because Meta redelivers for days and
SQS is at-least-once and unordered:
- items fully determined by their key (an inbound message, one status event, an event of another
  field) are plain batched puts: writing one twice leaves the same item;
- state that evolves is split into facets (:mod:`wacloud.table.facets`), written only with a newer
  order key; the facets of one item are written together in one conditional update;
- a raw payload is archived once per body, keeping its earliest receipt; what became of it
  (stored in full, parts the models could not type, rejected) is noted on its item, so that a
  redelivery of a payload stored in full can be skipped.

Keys and items are spelled out in :mod:`.keys` and :mod:`.items`; AWS failures leave as
:class:`~wacloud.table.errors.TableUnavailableError` (:mod:`.client`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wacloud.meta.identifiers import is_business_scoped_id
from wacloud.meta.templates import TemplateChange
from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed
from wacloud.table.facets import STATUS_RANK, Advance, Facet, newest, profile_facets
from wacloud.table.items import (
    FailedAttempt,
    OutboundRecord,
    RawArchive,
    failure_item,
    inbound_view,
    moved_inbound_item,
    outbound_fields,
    outbound_view,
    raw_archive_item,
)
from wacloud.table.keys import (
    CONSENT_INDEX,
    CONVERSATION_INDEX,
    FAILED_INDEX,
    FAILURE_SK,
    INBOUND_SK_PREFIX,
    INDEX_PARTITION_KEYS,
    MESSAGE_SK,
    PROFILE_SK,
    RAW_SK,
    STATUS_SK_PREFIX,
    UNTYPED_SK_PREFIX,
    USER_LINK_SK,
    contact_pk,
    day_of,
    failed_day_pk,
    inbound_of,
    inbound_sk,
    message_pk,
    raw_day_pk,
    raw_pk,
    rejected_day_pk,
    time_key,
    untyped_sk,
    user_link_pk,
    wa_id_of,
)
from wacloud.table.templates import TemplateCatalogStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


@dataclass(frozen=True)
class ContactProfile:
    """A contact of the reminder audience: who, and the name to greet them by."""

    wa_id: str
    name: str | None


@dataclass(frozen=True)
class Archived:
    """What archiving a payload found."""

    first: bool
    """No receipt of this body was archived before."""
    stored: dict[str, Any] | None
    """The payload's item as it was before, if there was one (DynamoDB returns it at no cost)."""
    kept: bool = False
    """An earlier receipt's item stands (this one was not written): ``stored`` is the item now."""

    @property
    def processed_updates(self) -> int | None:
        """The updates stored by a delivery that stored them all, when one did and noted it."""
        if not self.kept or self.stored is None or PROCESSED_UPDATES not in self.stored:
            return None
        return int(self.stored[PROCESSED_UPDATES])

    def received_at_ms(self, this_receipt: int) -> int:
        """When the body was first received: the standing item's time, or this receipt's."""
        if not self.kept or self.stored is None or "received_at_ms" not in self.stored:
            return this_receipt
        return int(self.stored["received_at_ms"])

    @property
    def was_rejected(self) -> bool:
        return self.stored is not None and REJECTED in self.stored

    @property
    def had_untyped(self) -> bool:
        return self.stored is not None and bool(self.stored.get(UNTYPED))


# The profile's read: the profile and the latest messages, in a first page this small (one
# message settles the window and the name unless it is a system notice or came without a name),
# then pages of more, never past this many messages (the name may be older: then it is unknown).
PROFILE_FIRST_PAGE = 3
PROFILE_MESSAGES_READ = 50
# Meta's customer service window: the sender's rule (sender/policy.py) and the profile's read.
WINDOW_SECONDS = 24 * 3600
# Sorts after every inbound message's sort key (``MSG#<10 digits>#<wamid>``), before ``PROFILE``.
INBOUND_SK_END = "MSG#~"
# Order keys of the facets the profile's read derives from the messages.
INBOUND_KEY = "last_inbound_key"
NAME_KEY = "profile_name_key"

# Attributes of a raw payload's item that say what became of it.
PROCESSED_UPDATES = "processed_updates"
UNTYPED = "untyped"
REJECTED = "rejected"


def _identity(contact: str) -> dict[str, str]:
    """``user_id`` and ``username`` of a message's ``contacts`` entry, as stored (compact JSON)."""
    try:
        entry = json.loads(contact)
    except ValueError:
        return {}
    if not isinstance(entry, dict):
        return {}
    profile = entry.get("profile")
    found = {
        "user_id": entry.get("user_id"),
        "username": profile.get("username") if isinstance(profile, dict) else None,
    }
    return {name: value for name, value in found.items() if isinstance(value, str) and value}


@dataclass
class _ContactRead:
    """What the profile's read found: the profile item, the latest inbound message (order key,
    time, wamid, number), the latest name (order key, name), and the latest time per number."""

    profile: dict[str, Any] | None = None
    last_inbound: tuple[str, int, str, str] | None = None
    name: tuple[str, str] | None = None
    windows: dict[str, int] = field(default_factory=dict)
    identity: dict[str, str] | None = None
    """The business-scoped id and username of the latest message that came with them."""

    def settled(self, phone_number_id: str | None) -> bool:
        number_known = phone_number_id is None or phone_number_id in self.windows or "" in self.windows
        return self.last_inbound is not None and self.name is not None and number_known


@dataclass(frozen=True)
class OldMessagesPage:
    messages: list[dict[str, Any]]
    cursor: Mapping[str, Any] | None
    """Where the scan goes on; None when it is done."""


@dataclass(frozen=True)
class ProfilePage:
    contacts: list[ContactProfile]
    cursor: dict[str, str] | None
    """Where the next page starts; None on the last page."""


class ConversationStore:
    def __init__(self, table: Table, clock: Callable[[], float] = time.time) -> None:
        self._table = TableClient(table)
        self._clock = clock
        self._templates = TemplateCatalogStore(table, clock)

    @property
    def table_name(self) -> str:
        return self._table.name

    # ------------------------------------------------------------------ writes
    def put_items(self, items: Iterable[Mapping[str, Any]], *, until: float | None = None) -> None:
        """Batched puts of items fully determined by their key (safe to repeat, so unconditional).

        Throttled puts are retried with backoff, not past ``until`` (a :func:`time.monotonic` time).
        """
        self._table.batch_put(items, until=until)

    def archive(self, archive: RawArchive) -> Archived:
        """Archive a raw payload, keeping its earliest receipt.

        Meta redelivers the same body in new requests and SQS may hand them over in any order, so
        "first processed wins" would depend on that order. The smallest receipt key (``gsi1sk``:
        receipt time, then request and message ids) does not.
        """
        item = raw_archive_item(archive)
        try:
            old = self._table.put(
                item,
                ConditionExpression="attribute_not_exists(pk) OR gsi1sk > :receipt",
                ExpressionAttributeValues={":receipt": item["gsi1sk"]},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            return Archived(first=False, stored=dict(failed.stored) if failed.stored else None, kept=True)
        previous = old.get("Attributes")
        return Archived(first=previous is None, stored=previous)

    def note_outcome(
        self, sha256: str, *, processed_updates: int | None, untyped: int, clear_rejected: bool
    ) -> None:
        """Say on a payload's item what its processing found: every update stored
        (``processed_updates``, so that redeliveries can be skipped), how many parts could not be
        typed, and that an earlier rejection no longer holds."""
        sets: dict[str, Any] = {}
        removes: list[str] = []
        if processed_updates is not None:
            sets[PROCESSED_UPDATES] = processed_updates
        if untyped:
            sets[UNTYPED] = untyped
        else:
            removes.append(UNTYPED)
        if clear_rejected:
            removes += [REJECTED, "gsi2pk", "gsi2sk"]
        self._update_raw(sha256, sets, removes)

    def reject(self, sha256: str, reason: str, received_at_ms: int) -> None:
        """A payload nothing can be stored of: note why, and list it for operators (index gsi2,
        by day of receipt) until one dismisses it."""
        self._update_raw(
            sha256,
            {
                REJECTED: reason,
                "gsi2pk": rejected_day_pk(day_of(received_at_ms // 1000)),
                "gsi2sk": f"{received_at_ms:013d}#{sha256}",
            },
            [PROCESSED_UPDATES, UNTYPED],
        )

    def dismiss_rejected(self, sha256: str) -> bool:
        """Take a rejected payload off the operators' list (the reason stays); whether it was on it."""
        try:
            self._table.update(
                {"pk": raw_pk(sha256), "sk": RAW_SK},
                UpdateExpression="REMOVE gsi2pk, gsi2sk",
                ConditionExpression="attribute_exists(gsi2pk)",
            )
        except ConditionFailed:
            return False
        return True

    def untyped_paths(self, sha256: str) -> set[str]:
        """Where the parts of a payload stored as untyped are (their ``path``)."""
        found = self._table.query(
            None,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": raw_pk(sha256), ":prefix": UNTYPED_SK_PREFIX},
            ProjectionExpression="sk",
        )
        return {str(item["sk"]).removeprefix(UNTYPED_SK_PREFIX) for item in found}

    def forget_untyped(self, sha256: str, paths: Iterable[str]) -> None:
        """Delete untyped parts that are typed now (the models learned them, the payload was replayed)."""
        self._table.batch_delete([{"pk": raw_pk(sha256), "sk": untyped_sk(path)} for path in paths])

    def note_failure(self, failure: FailedAttempt) -> None:
        """Keep why the latest attempt at a payload failed (one item per payload, replaced)."""
        self._table.put(failure_item(failure))

    def apply(self, advance: Advance) -> set[str]:
        """Write each of an item's facets whose key is newer than the stored one, and its constants
        where they are missing; the key attributes written.

        One conditional update writes every facet while all are newer (the usual case: updates
        arrive roughly in order). When one is not, the stored item that DynamoDB returns with the
        failed condition (at no extra cost) tells which facets are still behind, and those are
        retried alone. A stored key never decreases, so each retry drops at least one facet.
        """
        pending: Advance | None = Advance(advance.pk, advance.sk, newest(advance.facets), advance.constants)
        while pending is not None and (pending.facets or pending.constants):
            try:
                self._update_facets(pending.pk, pending.sk, pending.facets, pending.constants)
            except ConditionFailed as failed:
                if failed.stored is None:
                    raise
                left = pending.beyond(failed.stored)
                if len(left.facets if left is not None else ()) == len(pending.facets):
                    raise  # cannot happen with keys that only grow; never loop on it
                pending = left
                continue
            return {facet.key_attribute for facet in pending.facets}
        return set()

    def advance_profile(self, wa_id: str, facets: Iterable[Facet]) -> set[str]:
        return self.apply(profile_advance(wa_id, facets))

    def unwritten(self, advances: Sequence[Advance]) -> list[Advance]:
        """What of ``advances`` the table does not hold yet, read in batches of a hundred items.

        For a retry of a payload that was partly stored: an eventually consistent read costs half
        a read unit, a tenth of the write unit a refused conditional write costs, and the retry
        goes on from where the last attempt stopped. A stale answer shows an older state, never a
        newer one, so at worst a write is tried that its condition refuses.
        """
        attributes = set().union(*(advance.attributes for advance in advances))
        stored = self._read_back(((advance.pk, advance.sk) for advance in advances), attributes)
        left = [advance.beyond(stored.get((advance.pk, advance.sk), {})) for advance in advances]
        return [advance for advance in left if advance is not None]

    def missing_items(self, items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The items among ``items`` (each fully determined by its key) not in the table yet:
        a retry puts only those (eventually consistent reads, as :meth:`unwritten`)."""
        present = self._read_back((_item_key(item) for item in items), ())
        return [item for item in items if _item_key(item) not in present]

    def _read_back(
        self, keys: Iterable[tuple[str, str]], attributes: Iterable[str]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The items among ``keys`` that exist, by key, with only ``attributes`` besides the key,
        read eventually consistent (what the attempts before a retry stored)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        found = self._table.batch_get(
            [{"pk": pk, "sk": sk} for pk, sk in wanted], attributes=attributes, consistent=False
        )
        return {_item_key(item): item for item in found}

    def link_previous_number(self, new_wa_id: str, old_wa_id: str) -> None:
        """``user_changed_number`` on the new number's profile: the numbers it had before.

        Adding to a set is idempotent and commutes, so it needs no order key.
        """
        self._table.update(
            {"pk": contact_pk(new_wa_id), "sk": PROFILE_SK},
            UpdateExpression="ADD previous_wa_ids :old SET wa_id = :new",
            ExpressionAttributeValues={":old": {old_wa_id}, ":new": new_wa_id},
        )

    def apply_template_change(self, change: TemplateChange, source: str, at: int) -> bool:
        """A template webhook's news (status, quality, category) on the template catalog."""
        return self._templates.apply(change, source, at)

    def record_outbound(self, record: OutboundRecord) -> None:
        """The sender's record of a message it sent; never touches the status fields."""
        fields = outbound_fields(record)
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        self._table.update(
            {"pk": message_pk(record.wamid), "sk": MESSAGE_SK},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    # ------------------------------------------------------------------ reads
    def message(self, wamid: str) -> dict[str, Any] | None:
        """The message item with its status history (oldest first) under ``history``."""
        items = self._query_all(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": message_pk(wamid)}
        )
        message = next((item for item in items if item["sk"] == MESSAGE_SK), None)
        history = [item for item in items if str(item["sk"]).startswith(STATUS_SK_PREFIX)]
        if message is None and not history:
            return None
        # Within one second the sort key orders statuses by name; their rank is the real order.
        history.sort(key=lambda item: (int(item["timestamp"]), STATUS_RANK.get(str(item["status"]), -1)))
        result: dict[str, Any] = {"pk": message_pk(wamid), "sk": MESSAGE_SK, "wamid": wamid}
        if message is not None:
            result.update(outbound_view(message))
        result["history"] = history
        return result

    def inbound_message(self, wa_id: str, wamid: str) -> dict[str, Any] | None:
        """A message the contact sent, found in their partition (newest first): its key starts with
        its time, which a reference by wamid does not carry."""
        for item in self._inbound(wa_id, None, newest_first=True, consistent=True):
            if inbound_of(str(item["sk"]))[1] == wamid:
                return inbound_view(item)
        return None

    def conversation(
        self, wa_id: str, limit: int | None = 50, newest_first: bool = False
    ) -> list[dict[str, Any]]:
        """The contact's messages in both directions, in time order: what they sent (their
        partition) merged with what was sent to them (``gsi1``, keys only, then the items)."""
        inbound = [inbound_view(item) for item in self._inbound(wa_id, limit, newest_first=newest_first)]
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._listing(
                CONVERSATION_INDEX, contact_pk(wa_id), limit, ScanIndexForward=not newest_first
            )
        ]
        outbound = [outbound_view(item) for item in self._table.batch_get(keys)] if keys else []
        merged = sorted(
            inbound + outbound,
            key=lambda item: time_key(int(item.get("timestamp", 0)), str(item.get("wamid", ""))),
            reverse=newest_first,
        )
        return merged if limit is None else merged[:limit]

    def profile(self, wa_id: str, phone_number_id: str | None = None) -> dict[str, Any] | None:
        """What the sender decides by: the profile's facets (consent, marketing stop, number change)
        and, from the contact's latest messages, the 24-hour window (``last_inbound_at``,
        ``last_inbound_wamid``, and the business number it was sent to, ``last_inbound_number``)
        and ``profile_name``. One query of the contact's partition, newest first: ``PROFILE`` sorts
        after every message, so it comes first, then the latest messages, which almost always
        settle both at once. None for a contact never seen.

        A window is per business number: ``windows`` maps each number the messages read were sent
        to (``""`` for a message that named none) to the time of the latest. With
        ``phone_number_id``, that number's window is settled too, even when the contact wrote to
        other numbers since (a filtered read of the last 24 hours, in that rare case)."""
        read = self._read_contact(wa_id, phone_number_id)
        profile, last_inbound, name, windows = read.profile, read.last_inbound, read.name, read.windows
        if profile is None and last_inbound is None and name is None:
            return None
        profile = profile or {"pk": contact_pk(wa_id), "sk": PROFILE_SK, "wa_id": wa_id}
        if "last_inbound_at" in profile:
            # Written before messages were kept in the contact's partition: the time of a message to
            # whichever number, as the stack had one.
            windows[""] = max(windows.get("", 0), int(profile["last_inbound_at"]))
        # A profile written before messages were kept in the contact's partition holds these
        # facets itself: the newer of the two wins, as facets do.
        if last_inbound is not None and last_inbound[0] > str(profile.get(INBOUND_KEY, "")):
            profile.update(
                {
                    INBOUND_KEY: last_inbound[0],
                    "last_inbound_at": last_inbound[1],
                    "last_inbound_wamid": last_inbound[2],
                }
            )
            if last_inbound[3]:
                profile["last_inbound_number"] = last_inbound[3]
        if name is not None and name[0] > str(profile.get(NAME_KEY, "")):
            profile.update({NAME_KEY: name[0], "profile_name": name[1]})
        profile["windows"] = windows
        for attribute, value in (read.identity or {}).items():
            profile.setdefault(attribute, value)
        return profile

    def _read_contact(self, wa_id: str, phone_number_id: str | None) -> _ContactRead:
        read = _ContactRead()
        seen = 0
        for seen, item in enumerate(self._contact_newest_first(wa_id)):
            if item["sk"] == PROFILE_SK:
                read.profile = dict(item)
                continue
            if not str(item["sk"]).startswith(INBOUND_SK_PREFIX):
                continue
            timestamp, wamid = inbound_of(str(item["sk"]))
            key = time_key(timestamp, wamid)
            if item.get("type") != "system":
                # System notices come from WhatsApp, not the user: they open no window.
                number = str(item.get("phone_number_id") or "")
                read.windows.setdefault(number, timestamp)
                if read.last_inbound is None:
                    read.last_inbound = (key, timestamp, wamid, number)
            if read.name is None and item.get("name"):
                read.name = (key, str(item["name"]))
            if read.identity is None and item.get("contact"):
                read.identity = _identity(str(item["contact"]))
            if read.settled(phone_number_id) or seen >= PROFILE_MESSAGES_READ:
                break
        if (
            phone_number_id is not None
            and phone_number_id not in read.windows
            and seen >= PROFILE_MESSAGES_READ
        ):
            latest = self._latest_inbound_to(wa_id, phone_number_id)
            if latest is not None:
                read.windows[phone_number_id] = latest
        return read

    def _latest_inbound_to(self, wa_id: str, phone_number_id: str) -> int | None:
        """The time of the contact's latest message to one number within the last 24 hours."""
        since = inbound_sk(int(self._clock()) - WINDOW_SECONDS, "")
        for item in self._table.query(
            None,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :since AND :end",
            FilterExpression="phone_number_id = :number AND #type <> :system",
            ExpressionAttributeNames={"#type": "type"},
            ExpressionAttributeValues={
                ":pk": contact_pk(wa_id),
                ":since": since,
                ":end": INBOUND_SK_END,
                ":number": phone_number_id,
                ":system": "system",
            },
            ScanIndexForward=False,
            ConsistentRead=True,
        ):
            return inbound_of(str(item["sk"]))[0]
        return None

    def contact_of(self, identifier: str) -> str:
        """The contact a number or business-scoped user id names: a business-scoped id that came
        with a number is that number's contact; any other identifier is its own."""
        if not is_business_scoped_id(identifier):
            return identifier
        link = self._table.get({"pk": user_link_pk(identifier), "sk": USER_LINK_SK})
        return str(link["wa_id"]) if link is not None and link.get("wa_id") else identifier

    def user_links(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The phone number each business-scoped id is linked to, for those linked."""
        keys = [{"pk": user_link_pk(user_id), "sk": USER_LINK_SK} for user_id in sorted(set(user_ids))]
        if not keys:
            return {}
        return {
            str(item["user_id"]): str(item["wa_id"])
            for item in self._table.batch_get(keys)
            if item.get("user_id") and item.get("wa_id")
        }

    def carry_profile(self, user_id: str, wa_id: str) -> set[str]:
        """What a contact known by a business-scoped id alone did (consent, marketing stop), now on
        the profile of the number Meta linked the id to: facets, so the newer state wins either
        way. The key attributes written."""
        stored = self._table.get({"pk": contact_pk(user_id), "sk": PROFILE_SK})
        facets = profile_facets(stored or {})
        return self.advance_profile(wa_id, facets) if facets else set()

    def failed_messages(self, day: str, limit: int | None = 100) -> list[dict[str, Any]]:
        return self._listing(FAILED_INDEX, failed_day_pk(day), limit)

    def raw_payloads(self, day: str, limit: int | None = 100) -> list[dict[str, Any]]:
        """The payloads archived on a day, in order of receipt (``gsi1`` holds their keys)."""
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._listing(CONVERSATION_INDEX, raw_day_pk(day), limit)
        ]
        found = {str(item["pk"]): item for item in self._table.batch_get(keys)} if keys else {}
        return [found[str(key["pk"])] for key in keys if str(key["pk"]) in found]

    def raw_payload(self, sha256: str) -> dict[str, Any] | None:
        return self._table.get({"pk": raw_pk(sha256), "sk": RAW_SK})

    def untyped_parts(self, sha256: str) -> list[dict[str, Any]]:
        """The parts of a payload the models could not type, in order of their path."""
        return self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": raw_pk(sha256), ":prefix": UNTYPED_SK_PREFIX},
        )

    def rejected_payloads(self, day: str, limit: int | None = 100) -> list[dict[str, Any]]:
        """Payloads received on a day that were rejected and not dismissed, in order of receipt."""
        return self._listing(FAILED_INDEX, rejected_day_pk(day), limit)

    def failures(self, sha256s: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The latest failed attempt at each of these payloads that has one, by SHA-256."""
        keys = [{"pk": raw_pk(digest), "sk": FAILURE_SK} for digest in dict.fromkeys(sha256s)]
        return {str(item["sha256"]): item for item in self._table.batch_get(keys)}

    def opted_in_contacts(
        self, cursor: Mapping[str, str] | None, page_size: int, *, exclude_marketing_stopped: bool
    ) -> ProfilePage:
        """A page of the contacts who opted in and did not move to another number.

        A Scan, but of the sparse ``consent`` index, holding only profiles with a consent keyword:
        its cost follows the number of those contacts, not the size of the table.
        """
        names = {"#in": "opted_in", "#moved": "changed_to"}
        values: dict[str, Any] = {":yes": True}
        condition = "#in = :yes AND attribute_not_exists(#moved)"
        if exclude_marketing_stopped:
            names["#stopped"] = "marketing_stopped"
            condition += " AND NOT #stopped = :yes"
        request: dict[str, Any] = {
            "IndexName": CONSENT_INDEX,
            "FilterExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": page_size,
        }
        if cursor:
            request["ExclusiveStartKey"] = dict(cursor)
        page = self._table.scan_page(**request)
        contacts = [
            ContactProfile(
                wa_id=str(item.get("wa_id") or wa_id_of(str(item["pk"]))),
                name=str(item["profile_name"]) if item.get("profile_name") else None,
            )
            for item in page.get("Items", [])
            if item.get("sk") == PROFILE_SK
        ]
        last = page.get("LastEvaluatedKey")
        return ProfilePage(contacts, {k: str(v) for k, v in last.items()} if last else None)

    # ------------------------------------------------------------------ moving old items
    def old_inbound_messages(self, cursor: Mapping[str, Any] | None, page_size: int) -> OldMessagesPage:
        """A page of a Scan for inbound messages stored the old way (``MSG#<wamid>`` /
        ``MESSAGE``): a one-off read of the whole table, for :meth:`move_inbound`."""
        request: dict[str, Any] = {
            "FilterExpression": "sk = :message AND direction = :inbound",
            "ExpressionAttributeValues": {":message": MESSAGE_SK, ":inbound": "inbound"},
            "Limit": page_size,
        }
        if cursor:
            request["ExclusiveStartKey"] = dict(cursor)
        page = self._table.scan_page(**request)
        found = [dict(item) for item in page.get("Items", []) if str(item["pk"]).startswith("MSG#")]
        return OldMessagesPage(found, page.get("LastEvaluatedKey"))

    def move_inbound(self, old: Sequence[Mapping[str, Any]]) -> None:
        """Put old inbound messages where they are kept now, then delete them where they were (a
        repeated move writes the same items again)."""
        self._table.batch_put([moved_inbound_item(item) for item in old])
        self._table.batch_delete([{"pk": item["pk"], "sk": item["sk"]} for item in old])

    # ------------------------------------------------------------------ helpers
    def _update_raw(self, sha256: str, sets: Mapping[str, Any], removes: Sequence[str]) -> None:
        names = {f"#s{i}": name for i, name in enumerate(sets)} | {
            f"#r{i}": name for i, name in enumerate(removes)
        }
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets))))
        if removes:
            clauses.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes))))
        request: dict[str, Any] = {
            "UpdateExpression": " ".join(clauses),
            # Never create a bare item: an archive TTL deleted (or never written) stays absent.
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
        }
        if sets:
            request["ExpressionAttributeValues"] = {f":s{i}": value for i, value in enumerate(sets.values())}
        with suppress(ConditionFailed):
            self._table.update({"pk": raw_pk(sha256), "sk": RAW_SK}, **request)

    def _update_facets(self, pk: str, sk: str, facets: Sequence[Facet], constants: Mapping[str, Any]) -> None:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        assignments: list[str] = []
        conditions: list[str] = []

        def assign(attribute: str, value: Any) -> str:
            name, placeholder = f"#a{len(names)}", f":v{len(values)}"
            names[name] = attribute
            values[placeholder] = value
            assignments.append(f"{name} = {placeholder}")
            return name

        for facet in facets:
            key_name = assign(facet.key_attribute, facet.key)
            conditions.append(f"(attribute_not_exists({key_name}) OR {key_name} < :v{len(values) - 1})")
            for attribute, value in facet.values.items():
                assign(attribute, value)
        for attribute, value in constants.items():
            assign(attribute, value)
        request: dict[str, Any] = {
            "key": {"pk": pk, "sk": sk},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._table.update(**request)

    def _listing(self, index: str, partition: str, limit: int | None, **request: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` items of one partition of an index, in sort key order."""
        return list(
            self._table.query(
                limit,
                IndexName=index,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": INDEX_PARTITION_KEYS[index]},
                ExpressionAttributeValues={":pk": partition},
                **request,
            )
        )

    def _inbound(
        self, wa_id: str, limit: int | None, *, newest_first: bool, consistent: bool = False
    ) -> Iterator[dict[str, Any]]:
        return self._table.query(
            limit,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": contact_pk(wa_id), ":prefix": INBOUND_SK_PREFIX},
            ScanIndexForward=not newest_first,
            ConsistentRead=consistent,
        )

    def _contact_newest_first(self, wa_id: str) -> Iterator[dict[str, Any]]:
        """The contact's partition from its end: the profile, then the messages newest first.

        A small first page (the usual case needs the profile and one message), larger ones after.
        Consistent, as the sender's decisions read it right after the processor wrote.
        """
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": contact_pk(wa_id)},
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": PROFILE_FIRST_PAGE,
        }
        while True:
            page = self._table.query_page(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            request["Limit"] = PROFILE_MESSAGES_READ

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        return list(self._table.query(None, ConsistentRead=True, **kwargs))


def message_advance(
    wamid: str, facets: Iterable[Facet], recipient_id: str | None, phone_number_id: str | None = None
) -> Advance:
    """A message item's facets, with the constants every write of it sets when missing."""
    constants = {"wamid": wamid}
    if recipient_id:
        constants["recipient_id"] = recipient_id
    if phone_number_id:
        # The sender's record says the same; whichever comes first keeps it for the events.
        constants["phone_number_id"] = phone_number_id
    return Advance(message_pk(wamid), MESSAGE_SK, list(facets), constants)


def profile_advance(wa_id: str, facets: Iterable[Facet]) -> Advance:
    """A contact profile's facets, with its wa_id."""
    return Advance(contact_pk(wa_id), PROFILE_SK, list(facets), {"wa_id": wa_id})


def _item_key(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["pk"]), str(item["sk"])
