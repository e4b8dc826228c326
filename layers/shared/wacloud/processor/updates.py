"""What the processor does with one queued webhook: archive it, read it, store every update.

Every update of the POST is handled (all entries, changes, messages and statuses), each typed on
its own: anything not understood yet is stored raw rather than dropped, and a part the models
reject is stored raw with the reason, alone. A body that is not a webhook at all is archived and
noted as rejected, once: retrying it could not help.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from wacloud.core.metrics import metrics
from wacloud.core.observability import failure_fields, log_failure, logger
from wacloud.core.settings import ProcessorSettings
from wacloud.meta.inbound import NotAWebhookError, read_payload
from wacloud.processor.bucket import PayloadBucket
from wacloud.processor.changes import PayloadChanges, user_ids
from wacloud.processor.concurrency import Task, WritePool
from wacloud.processor.timing import BatchTimer, Deadline
from wacloud.table.client import BATCH_WRITE_MAX
from wacloud.table.items import FailedAttempt, RawArchive, payload_sha256
from wacloud.table.keys import day_of
from wacloud.table.spill import spill
from wacloud.table.store import Archived, ConversationStore, message_advance, profile_advance
from wacloud.webhook.envelope import PayloadPointer, QueuedWebhook

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Raw bodies larger than this are archived in S3 and the item points there. Above about 8 KB an S3
# PUT ($5 per million) costs less than the extra DynamoDB write units (one per KB, $0.625 per million)
# and storage, and the table's items stay small.
MAX_INLINE_ARCHIVE_BYTES = 8_192
# A payload of this many updates is archived, and notes on its archive item that it was stored in
# full, so that a redelivery is skipped at the cost of the archive's put. For fewer, the archive
# and the note (about three write units) cost more than storing the payload again.
MARK_STORED_MIN_UPDATES = 25
# RawArchive: every payload as received, or only those the typed items do not hold in full.
ARCHIVE_ALL = "all"
# A message attribute that asks for a payload to be stored again even if it was stored in full
# (wactl raw replay sets it: the models may understand more of it since).
REPLAY_ATTRIBUTE = "replay"
# Noting why a record failed is one write: not started with less than this before Lambda's end.
NOTE_FAILURE_MIN_SECONDS = 1.0


@dataclass(frozen=True)
class ProcessingSummary:
    messages: int = 0
    statuses: int = 0
    other_changes: int = 0
    untyped: int = 0
    duplicate: bool = False
    """Not the first receipt of this body."""
    skipped: bool = False
    """A redelivery of a payload stored in full already: nothing was written again."""
    rejected: str | None = None
    """Why the body is not a webhook, when it is not; it was archived and will not be retried."""
    message_types: Mapping[str, int] = field(default_factory=dict)
    status_values: Mapping[str, int] = field(default_factory=dict)
    status_error_codes: Mapping[str, int] = field(default_factory=dict)
    """Meta's error codes in failed statuses (131026 undeliverable, 131050 marketing stopped, ...)."""
    unknown_types: int = 0
    """Messages of a type the models do not know yet (stored raw; a replay types them later)."""
    unknown_fields: tuple[str, ...] = ()
    """Fields of messages and statuses the models do not know yet (kept in their ``raw``)."""

    def count(self) -> None:
        """Add this payload's outcome to the invocation's metrics."""
        if self.rejected is not None:
            metrics.count("WebhooksRejected", reason="parse")
            return
        metrics.count("WebhooksProcessed")
        if self.skipped:
            metrics.count("WebhooksSkipped")
        for kind, count in self.message_types.items():
            metrics.count("MessagesStored", count, type=kind)
        if self.unknown_types:
            metrics.count("MessagesStored", self.unknown_types, type="unknown_type")
            metrics.count("UnknownMessageTypes", self.unknown_types)
        for status, count in self.status_values.items():
            metrics.count("StatusesStored", count, status=status)
        for code, count in self.status_error_codes.items():
            metrics.count("StatusErrors", count, code=code)
        metrics.count("OtherUpdatesStored", self.other_changes)
        metrics.count("UntypedParts", self.untyped)
        metrics.count("UnknownFields", len(self.unknown_fields))


@dataclass(frozen=True)
class Delivery:
    """What the event source says about a record beside the queued webhook."""

    receive_count: int = 1
    replay: bool = False

    @classmethod
    def from_lambda_record(cls, record: Mapping[str, Any]) -> Delivery:
        attributes = record.get("attributes") or {}
        return cls(
            receive_count=int(attributes.get("ApproximateReceiveCount") or 1),
            replay=REPLAY_ATTRIBUTE in (record.get("messageAttributes") or {}),
        )


class WebhookProcessor:
    def __init__(
        self,
        store: ConversationStore,
        s3_factory: Callable[[], S3Client],
        settings: ProcessorSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._bucket = PayloadBucket(s3_factory, settings.payload_bucket)
        self._settings = settings
        self._pool = WritePool(settings.write_concurrency)
        self._clock = clock

    def batch(self, remaining_ms: Callable[[], int]) -> BatchRun:
        """One invocation's records, within the time Lambda gives it."""
        return BatchRun(self, BatchTimer(remaining_ms))

    def process(
        self,
        webhook: QueuedWebhook,
        *,
        deadline: Deadline | None = None,
        replay: bool = False,
        retry: bool = False,
    ) -> ProcessingSummary:
        """Store every update of the payload. ``retry``: an earlier attempt at this record may have
        stored part of it, so what is stored already is read first and not written again."""
        body = self._read_body(webhook)
        digest = hashlib.sha256(body).hexdigest()
        archived: Archived | None = None
        if self._settings.raw_archive == ARCHIVE_ALL or webhook.in_bucket or replay:
            # A replay comes from the archive, whose notes it may clear; a body in the bucket is
            # archived by a pointer, one small item.
            archived = self._archive(body, digest, webhook)
            if archived.processed_updates is not None and not replay:
                return ProcessingSummary(duplicate=True, skipped=True)
        try:
            read = read_payload(body)
        except NotAWebhookError as exc:
            archived = archived or self._archive(body, digest, webhook)
            self._store.reject(digest, str(exc), archived.received_at_ms(webhook.received_at_ms))
            return ProcessingSummary(duplicate=not archived.first, rejected=str(exc))
        # One read for the payload's business-scoped ids, whose contact may be known by a number.
        changes = PayloadChanges.of(read, digest, self._settings, self._store.user_links(user_ids(read)))
        if archived is None and (changes.untyped or changes.updates >= MARK_STORED_MIN_UPDATES):
            # The typed items do not hold all of it (untyped parts are kept under the archive), or
            # noting that it was stored in full saves its redeliveries more than the archive costs.
            archived = self._archive(body, digest, webhook)
            if archived.processed_updates is not None:
                return ProcessingSummary(duplicate=True, skipped=True)
        # A body received before may be partly stored too (Meta's redelivery of a failed attempt).
        again = retry or (archived is not None and not archived.first)
        self._write(changes, deadline, again=again and not replay)
        if archived is not None:
            self._note_outcome(digest, changes, archived)
        if changes.unknown_types or changes.unknown_fields:
            # Meta changed its payloads: what the models missed is kept raw; name it for a model update.
            logger.warning(
                "payload with unknown types or fields",
                extra={
                    "unknown_types": changes.unknown_types,
                    "unknown_fields": sorted(changes.unknown_fields),
                },
            )
        return ProcessingSummary(
            messages=changes.messages,
            statuses=changes.statuses,
            other_changes=changes.others,
            untyped=changes.untyped,
            duplicate=archived is not None and not archived.first,
            message_types=dict(changes.message_types),
            status_values=dict(changes.status_values),
            status_error_codes=dict(changes.status_error_codes),
            unknown_types=changes.unknown_types,
            unknown_fields=tuple(sorted(changes.unknown_fields)),
        )

    def note_failure(self, webhook: QueuedWebhook, exc: BaseException, delivery: Delivery) -> None:
        """Keep why this attempt failed, for ``wactl dlq list``; best effort, never raises."""
        fields = failure_fields(exc)
        message = fields["error_message"]
        if self._settings.raw_archive != ARCHIVE_ALL and not webhook.in_bucket:
            # Not archived on the way in: a payload that fails is, so that `wactl raw show` and
            # `raw replay` find it beside the reason.
            try:
                body = webhook.body.encode("utf-8")
                self._archive(body, hashlib.sha256(body).hexdigest(), webhook)
            except Exception as failure:
                log_failure("the failed payload could not be archived", failure)
        try:
            self._store.note_failure(
                FailedAttempt(
                    sha256=payload_sha256(webhook),
                    reason=f"{fields['error']}: {message}" if message else fields["error"],
                    error=fields["error"],
                    failed_at=int(self._clock()),
                    sqs_message_id=webhook.message_id,
                    receive_count=delivery.receive_count,
                )
            )
        except Exception as failure:
            log_failure("why the record failed could not be noted", failure)

    # ------------------------------------------------------------------ raw body and archive
    def _read_body(self, webhook: QueuedWebhook) -> bytes:
        if not webhook.in_bucket:
            return webhook.body.encode("utf-8")
        return self._bucket.read(webhook.pointer())

    def _archive(self, body: bytes, digest: str, webhook: QueuedWebhook) -> Archived:
        received_s = webhook.received_at_ms // 1000
        expires_at = received_s + self._settings.raw_payload_retention_days * 86_400
        if len(body) <= MAX_INLINE_ARCHIVE_BYTES and not webhook.in_bucket:
            archive = RawArchive(digest, len(body), webhook, body=webhook.body, expires_at=expires_at)
        else:
            pointer = self._archive_in_bucket(body, digest, webhook)
            archive = RawArchive(digest, len(body), webhook, body_pointer=pointer, expires_at=expires_at)
        return self._store.archive(archive)

    def _archive_in_bucket(self, body: bytes, digest: str, webhook: QueuedWebhook) -> str:
        if webhook.in_bucket:
            return webhook.body  # already in the bucket: the pointer is the archive
        key = f"archive/{day_of(webhook.received_at_ms // 1000).replace('-', '/')}/{digest}.json"
        self._bucket.put(key, body, "application/json")
        return PayloadPointer(self._bucket.name, key, len(body), digest).to_json()

    # ------------------------------------------------------------------ updates
    def _write(self, changes: PayloadChanges, deadline: Deadline | None, *, again: bool = False) -> None:
        """Items fully determined by their key first, then the evolving state, each phase's writes
        side by side: an item put after an update of the same item would undo the update. Within
        a phase, each item is written once. ``again``: only what the table does not hold yet (a
        retry then goes on from where the last attempt stopped, at the price of reads)."""
        store = self._store
        # One write per key: the last of the payload, as when they were written in order.
        items: list[Mapping[str, Any]] = list(
            {(item["pk"], item["sk"]): item for item in changes.items}.values()
        )
        if again:
            items = store.missing_items(items)
        until = deadline.at if deadline is not None else None
        puts: list[Task] = [
            partial(self._put, items[start : start + BATCH_WRITE_MAX], until)
            for start in range(0, len(items), BATCH_WRITE_MAX)
        ]
        self._pool.run(puts, deadline, "storing the updates")
        advances = [
            message_advance(wamid, facets, changes.recipients.get(wamid), changes.business_numbers.get(wamid))
            for wamid, facets in changes.message_facets.items()
        ]
        advances += [profile_advance(wa_id, facets) for wa_id, facets in changes.profiles.items()]
        if again:
            advances = store.unwritten(advances)
        updates: list[Task] = [partial(store.apply, advance) for advance in advances]
        self._pool.run(updates, deadline, "updating messages and contacts")
        # A number change also updates the new number's profile, which the phase above may update
        # too: after it, so that no two writes of the POST meet on one item at once.
        links: list[Task] = [
            partial(store.link_previous_number, new, old) for new, old in sorted(changes.number_links)
        ]
        self._pool.run(links, deadline, "linking changed numbers")
        carried: list[Task] = [
            partial(store.carry_profile, user_id, wa_id) for user_id, wa_id in sorted(changes.first_links)
        ]
        self._pool.run(carried, deadline, "joining business-scoped ids to their numbers")
        # A template's news, in the payload's order: a later change of one template wins.
        for change, field_name, at in changes.template_changes:
            store.apply_template_change(change, field_name, at)

    def _put(self, items: Sequence[Mapping[str, Any]], until: float | None) -> None:
        stored = []
        for item in items:
            kept, objects = spill(item, self._bucket.name)
            for spilled in objects:
                self._bucket.put(spilled.key, spilled.body, spilled.content_type)
            stored.append(kept)
        self._store.put_items(stored, until=until)

    def _note_outcome(self, digest: str, changes: PayloadChanges, archived: Archived) -> None:
        if archived.had_untyped:
            # Parts typed now (a replay after the models learned them) are stored as updates.
            stale = self._store.untyped_paths(digest) - changes.untyped_paths
            if stale:
                self._store.forget_untyped(digest, stale)
        if (
            changes.updates >= MARK_STORED_MIN_UPDATES
            or changes.untyped
            or archived.had_untyped
            or archived.was_rejected
        ):
            self._store.note_outcome(
                digest,
                processed_updates=changes.updates,
                untyped=changes.untyped,
                clear_rejected=archived.was_rejected,
            )


class BatchRun:
    """The records of one invocation: each started only while it can finish, failures noted."""

    def __init__(self, processor: WebhookProcessor, timer: BatchTimer) -> None:
        self._processor = processor
        self._timer = timer

    def process(self, webhook: QueuedWebhook, delivery: Delivery) -> ProcessingSummary:
        try:
            deadline = self._timer.start_record()
            try:
                summary = self._processor.process(
                    webhook, deadline=deadline, replay=delivery.replay, retry=delivery.receive_count > 1
                )
            finally:
                self._timer.record_done()
        except Exception as exc:
            metrics.count("WebhooksFailed")
            if self._timer.time_left() + self._timer.answer_margin >= NOTE_FAILURE_MIN_SECONDS:
                self._processor.note_failure(webhook, exc, delivery)
            raise
        summary.count()
        return summary
