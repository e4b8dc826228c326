"""What one payload changes in the table: items to put, and facets folded per evolving item."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from wacloud.core.settings import ProcessorSettings
from wacloud.meta.error_codes import OPTED_OUT_OF_MARKETING
from wacloud.meta.identifiers import is_business_scoped_id
from wacloud.meta.inbound import Entry, InboundMessage, MessagesValue, ReadPayload, Status, UntypedPart
from wacloud.meta.preferences import FIELD as USER_PREFERENCES
from wacloud.meta.preferences import preference_contact, read_preferences
from wacloud.meta.templates import TemplateChange, template_change
from wacloud.table.facets import (
    Facet,
    consent_facet,
    marketing_preference_facet,
    marketing_stopped_facet,
    name_facet,
    number_change_facet,
    status_facet,
)
from wacloud.table.items import (
    entry_time,
    event_item,
    message_item,
    sender_id,
    status_item,
    status_recipient,
    untyped_item,
    user_link_item,
)

# Status values counted by name in the metrics; others (warning, deleted, new ones) as "other",
# so that a value Meta invents does not become a new metric.
KNOWN_STATUSES = frozenset({"accepted", "held_for_quality_assessment", "sent", "delivered", "read", "failed"})


@dataclass
class PayloadChanges:
    """Every change a payload makes, gathered before anything is written.

    Folding keeps, per item and facet, only the newest update of the payload, so a POST with many
    updates for one contact or one message costs one conditional write per item, not per update.
    """

    settings: ProcessorSettings
    links: dict[str, str] = field(default_factory=dict)
    """Business-scoped user ids known to lead to a number: the table's links and the payload's."""
    items: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, list[Facet]] = field(default_factory=lambda: defaultdict(list))
    message_facets: dict[str, list[Facet]] = field(default_factory=lambda: defaultdict(list))
    recipients: dict[str, str] = field(default_factory=dict)
    # The business number each message's statuses came to (the change's metadata).
    business_numbers: dict[str, str] = field(default_factory=dict)
    number_links: set[tuple[str, str]] = field(default_factory=set)
    # Business-scoped ids linked to a number by this payload for the first time: what the contact
    # did while known by the id alone (consent, marketing stop) joins the number's profile.
    first_links: set[tuple[str, str]] = field(default_factory=set)
    untyped_paths: set[str] = field(default_factory=set)
    # Template webhooks' news for the template catalog, with the field that told it, in order.
    template_changes: list[tuple[TemplateChange, str, int]] = field(default_factory=list)
    messages: int = 0
    statuses: int = 0
    others: int = 0
    # What the payload held, for the metrics: message types and status values (known ones; the
    # rest counted as unknown types), and updates with fields the models do not know.
    message_types: Counter[str] = field(default_factory=Counter)
    status_values: Counter[str] = field(default_factory=Counter)
    status_error_codes: Counter[str] = field(default_factory=Counter)
    unknown_types: int = 0
    unknown_fields: set[str] = field(default_factory=set)

    @classmethod
    def of(
        cls,
        read: ReadPayload,
        sha256: str,
        settings: ProcessorSettings,
        links: Mapping[str, str] | None = None,
    ) -> PayloadChanges:
        """``links``: what the table links the payload's business-scoped ids to (:func:`user_ids`)."""
        changes = cls(settings, links=dict(links or {}))
        for user_id, wa_id in identity_pairs(read):
            changes.link(user_id, wa_id)
        untyped = list(read.untyped)
        paths = _ChangePaths(read.untyped)
        for entry_index, entry in enumerate(read.payload.entry):
            for change_index, change in enumerate(entry.changes):
                value = change.messages_value()
                if value is None:
                    changes.add_event(entry, change.field, change.value)
                    if change.field == USER_PREFERENCES and isinstance(change.value, Mapping):
                        path = f"{paths.of(entry_index, change_index)}.value"
                        untyped += changes.add_preferences(change.value, path)
                    continue
                if value.errors:
                    errors = [
                        error.model_dump(mode="json", by_alias=True, exclude_unset=True)
                        for error in value.errors
                    ]
                    changes.add_event(entry, "messages.errors", {"errors": errors})
                for message in value.messages:
                    changes.add_message(entry, value, message)
                for status in value.statuses:
                    changes.add_status(status, entry, value)
        for part in untyped:
            changes.items.append(untyped_item(sha256, part))
            changes.untyped_paths.add(part.path)
        return changes

    @property
    def untyped(self) -> int:
        return len(self.untyped_paths)

    @property
    def updates(self) -> int:
        return self.messages + self.statuses + self.others + self.untyped

    def link(self, user_id: str, wa_id: str) -> None:
        """Meta named one contact by both: the id leads to the number from now on (one item,
        written only when the table does not say so already)."""
        known = self.links.get(user_id)
        if known == wa_id:
            return
        if known is None:
            self.first_links.add((user_id, wa_id))
        self.links[user_id] = wa_id
        self.items.append(user_link_item(user_id, wa_id))

    def add_event(self, entry: Entry, field_name: str, value: Any) -> None:
        self.items.append(event_item(entry, field_name, value))
        self.others += 1
        change = template_change(field_name, value)
        if change is not None:
            self.template_changes.append((change, field_name, entry_time(entry)))

    def add_preferences(self, value: Mapping[str, Any], path: str) -> list[UntypedPart]:
        """Apply a ``user_preferences`` change (kept verbatim by :meth:`add_event` too): a stop or
        resume of marketing messages sets the contact's marketing facet, the one a 131050 failure
        sets, so the newest of the two wins. Other categories and values stay in the event only.
        Returns the preferences that could not be typed, to be kept as untyped parts."""
        read = read_preferences(value, path)
        for preference in read.preferences:
            stopped = preference.marketing_stopped
            if stopped is not None:
                contact = preference_contact(preference, self.links)
                self.profiles[contact].append(marketing_preference_facet(preference.timestamp, stopped))
        return read.untyped

    def add_message(self, entry: Entry, value: MessagesValue, message: InboundMessage) -> None:
        """The message, in its sender's partition. That item is all an ordinary message writes:
        the 24-hour window and the contact's name are read from the latest messages
        (:meth:`~wacloud.table.store.ConversationStore.profile`), so the profile is written only
        for what no message item says by itself (consent keywords, a number change)."""
        self.messages += 1
        wa_id = sender_id(message, self.links)
        self.items.append(message_item(entry, value, message, wa_id))
        if message.is_known_type:
            self.message_types[message.type] += 1
        else:
            self.unknown_types += 1
        self.unknown_fields.update(message.unknown_fields)
        if wa_id is None:
            return
        ts, wamid = message.timestamp, message.id
        facets: list[Facet] = []
        keyword = _consent_keyword(message)
        if keyword in self.settings.opt_out_keywords:
            facets.append(consent_facet(ts, wamid, False, f"keyword:{keyword}"))
        elif keyword in self.settings.opt_in_keywords:
            facets.append(consent_facet(ts, wamid, True, f"keyword:{keyword}"))
        system = message.system
        if system is not None and system.type == "user_changed_number" and system.new_wa_id:
            facets.append(number_change_facet(ts, wamid, system.new_wa_id))
            self.number_links.add((system.new_wa_id, wa_id))
        if not facets:
            return
        contact = value.contact_for(message)
        if contact is not None and contact.profile is not None and contact.profile.name:
            # The profile is being written anyway: the name goes with it, for the readers of the
            # consent index (the daily reminder greets by it), which see the profile alone.
            facets.append(name_facet(ts, wamid, contact.profile.name))
        self.profiles[wa_id].extend(facets)

    def add_status(
        self, status: Status, entry: Entry | None = None, value: MessagesValue | None = None
    ) -> None:
        self.statuses += 1
        self.items.append(status_item(status, entry, value))
        self.status_values[status.status if status.status in KNOWN_STATUSES else "other"] += 1
        self.unknown_fields.update(status.unknown_fields)
        self.status_error_codes.update(str(error.code) for error in status.errors)
        errors = [error.model_dump(mode="json", exclude_none=True) for error in status.errors]
        pricing = status.pricing.model_dump(mode="json", exclude_none=True) if status.pricing else None
        facet = status_facet(status.status, status.timestamp, status.id, errors, pricing)
        recipient = status_recipient(status, self.links)
        if facet is not None:
            self.message_facets[status.id].append(facet)
            if recipient:
                self.recipients[status.id] = recipient
            metadata = value.metadata if value is not None else None
            if metadata is not None and metadata.phone_number_id:
                self.business_numbers[status.id] = metadata.phone_number_id
        if recipient and any(error.code == OPTED_OUT_OF_MARKETING for error in status.errors):
            self.profiles[recipient].append(marketing_stopped_facet(status.timestamp, status.id))


def user_ids(read: ReadPayload) -> set[str]:
    """Every business-scoped user id the payload names a contact by: those to look up in the
    table's links before :meth:`PayloadChanges.of`."""
    return {user_id for user_id, _ in _contact_names(read) if user_id}


def identity_pairs(read: ReadPayload) -> list[tuple[str, str]]:
    """(business-scoped id, number) of every contact the payload names by both, in payload order."""
    return [
        (user_id, wa_id)
        for user_id, wa_id in _contact_names(read)
        if user_id and wa_id and is_business_scoped_id(user_id)
    ]


def _contact_names(read: ReadPayload) -> Iterator[tuple[str | None, str | None]]:
    """(business-scoped id, number) of each place the payload names a contact, in payload order:
    ``contacts`` entries, messages' senders, statuses' recipients, and the contacts and entries of
    ``user_preferences`` changes (untyped objects there). Either may be None."""
    for entry in read.payload.entry:
        for change in entry.changes:
            value = change.messages_value()
            if value is not None:
                yield from ((contact.user_id, contact.wa_id) for contact in value.contacts)
                yield from ((message.from_user_id, message.from_) for message in value.messages)
                yield from ((status.recipient_user_id, status.recipient_id) for status in value.statuses)
            elif change.field == USER_PREFERENCES and isinstance(change.value, Mapping):
                for name in ("contacts", USER_PREFERENCES):
                    named = change.value.get(name)
                    for item in named if isinstance(named, list) else []:
                        if isinstance(item, Mapping):
                            yield _text(item.get("user_id")), _text(item.get("wa_id"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class _ChangePaths:
    """Where a typed change was in the POST as sent (``entry[2].changes[0]``): an entry or a change
    the models set aside is missing from the typed payload, so the positions after it shift."""

    _ENTRY = re.compile(r"entry\[(\d+)\]")
    _CHANGE = re.compile(r"entry\[(\d+)\]\.changes\[(\d+)\](\.value)?")

    def __init__(self, untyped: list[UntypedPart]) -> None:
        self._entries: set[int] = set()
        self._changes: dict[int, set[int]] = defaultdict(set)
        for part in untyped:
            if (entry := self._ENTRY.fullmatch(part.path)) is not None:
                self._entries.add(int(entry[1]))
            elif (change := self._CHANGE.fullmatch(part.path)) is not None and (
                change[3] is None or part.kind == "value"
            ):
                self._changes[int(change[1])].add(int(change[2]))

    def of(self, entry_index: int, change_index: int) -> str:
        entry = _nth_kept(entry_index, self._entries)
        return f"entry[{entry}].changes[{_nth_kept(change_index, self._changes.get(entry, set()))}]"


def _nth_kept(typed_index: int, dropped: set[int]) -> int:
    """The position as sent of the ``typed_index``-th part kept when those at ``dropped`` were not."""
    position = typed_index
    for index in sorted(dropped):
        if index <= position:
            position += 1
    return position


def _consent_keyword(message: InboundMessage) -> str | None:
    text = None
    if message.text is not None:
        text = message.text.body
    elif message.button is not None:
        text = message.button.payload or message.button.text
    return text.strip().upper() if text else None
