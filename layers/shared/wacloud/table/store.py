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

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wacloud.meta.templates import TemplateChange
from wacloud.table.client import TableClient
from wacloud.table.errors import ConditionFailed
from wacloud.table.facets import STATUS_RANK, Facet, newest
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
    contact_pk,
    day_of,
    failed_day_pk,
    inbound_of,
    message_pk,
    raw_day_pk,
    raw_pk,
    rejected_day_pk,
    time_key,
    untyped_sk,
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
# Order keys of the facets the profile's read derives from the messages.
INBOUND_KEY = "last_inbound_key"
NAME_KEY = "profile_name_key"

# Attributes of a raw payload's item that say what became of it.
PROCESSED_UPDATES = "processed_updates"
UNTYPED = "untyped"
REJECTED = "rejected"


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

    def advance(
        self, pk: str, sk: str, facets: Iterable[Facet], constants: Mapping[str, Any] | None = None
    ) -> set[str]:
        """Write each facet whose key is newer than the stored one; the key attributes written.

        ``constants`` are attributes with one value for the item's whole life (the contact's wa_id,
        a message's recipient): set whenever they are missing, whichever facet wins.

        One conditional update writes every facet while all are newer (the usual case: updates
        arrive roughly in order). When one is not, the stored item that DynamoDB returns with the
        failed condition (at no extra cost) tells which facets are still behind, and those are
        retried alone. A stored key never decreases, so each retry drops at least one facet.
        """
        pending = {facet.key_attribute: facet for facet in newest(facets)}
        to_set = dict(constants or {})
        while pending or to_set:
            try:
                self._update_facets(pk, sk, list(pending.values()), to_set)
            except ConditionFailed as failed:
                stored = failed.stored
                if stored is None:
                    raise
                still_behind = {
                    name: facet
                    for name, facet in pending.items()
                    if name not in stored or str(stored[name]) < facet.key
                }
                if len(still_behind) == len(pending):
                    raise  # cannot happen with keys that only grow; never loop on it
                pending = still_behind
                to_set = {name: value for name, value in to_set.items() if name not in stored}
                continue
            return set(pending)
        return set()

    def advance_profile(self, wa_id: str, facets: Iterable[Facet]) -> set[str]:
        return self.advance(contact_pk(wa_id), PROFILE_SK, facets, {"wa_id": wa_id})

    def advance_message(
        self,
        wamid: str,
        facets: Iterable[Facet],
        recipient_id: str | None,
        phone_number_id: str | None = None,
    ) -> set[str]:
        constants = {"wamid": wamid}
        if recipient_id:
            constants["recipient_id"] = recipient_id
        if phone_number_id:
            # The sender's record says the same; whichever comes first keeps it for the events.
            constants["phone_number_id"] = phone_number_id
        return self.advance(message_pk(wamid), MESSAGE_SK, facets, constants)

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

    def profile(self, wa_id: str) -> dict[str, Any] | None:
        """What the sender decides by: the profile's facets (consent, marketing stop, number change)
        and, from the contact's latest messages, the 24-hour window (``last_inbound_at``,
        ``last_inbound_wamid``) and ``profile_name``. One query of the contact's partition, newest
        first: ``PROFILE`` sorts after every message, so it comes first, then the latest messages,
        which almost always settle both at once. None for a contact never seen."""
        profile: dict[str, Any] | None = None
        last_inbound: tuple[str, int, str] | None = None
        name: tuple[str, str] | None = None
        for seen, item in enumerate(self._contact_newest_first(wa_id)):
            if item["sk"] == PROFILE_SK:
                profile = dict(item)
                continue
            if not str(item["sk"]).startswith(INBOUND_SK_PREFIX):
                continue
            timestamp, wamid = inbound_of(str(item["sk"]))
            key = time_key(timestamp, wamid)
            if last_inbound is None and item.get("type") != "system":
                # System notices come from WhatsApp, not the user: they open no window.
                last_inbound = (key, timestamp, wamid)
            if name is None and item.get("name"):
                name = (key, str(item["name"]))
            if (last_inbound is not None and name is not None) or seen >= PROFILE_MESSAGES_READ:
                break
        if profile is None and last_inbound is None and name is None:
            return None
        profile = profile or {"pk": contact_pk(wa_id), "sk": PROFILE_SK, "wa_id": wa_id}
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
        if name is not None and name[0] > str(profile.get(NAME_KEY, "")):
            profile.update({NAME_KEY: name[0], "profile_name": name[1]})
        return profile

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
