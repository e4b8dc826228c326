"""The daily reminder: a fan-out that queues one job per opted-in contact, and the message of a job.

The schedule's run lists opted-in contacts from the sparse ``consent`` index (only profiles
that ever sent a consent keyword carry its key, ``consent_key``), so the listing reads those
profiles and nothing else of the table, and enqueues a job per contact, ten per
``SendMessageBatch``. Senders consuming the queue send each job's template under the idempotency
key ``reminder:<date>:<wa_id>``, ``date`` being the schedule's day in the reminder's time zone:
at most one reminder per contact per day however often a job or the whole run is repeated.

A marketing reminder leaves out the contacts who stopped marketing messages (a 131050 failure or
their own stop, until they resume). Whether the reminder is marketing is the template catalog's
category of the reminder template when the catalog knows it, else ``ReminderTemplateCategory``:
the sender judges each send by the catalog too, so the audience and the sends agree.

A run that nears its deadline queues a continuation job with the listing's cursor, which the
next sender picks up, so the fan-out has no size limit. A finished run is marked in the ledger
and a repeated schedule for the same day enqueues nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from wacloud.core.metrics import metrics
from wacloud.core.observability import logger
from wacloud.core.settings import ReminderSettings
from wacloud.meta.identifiers import is_business_scoped_id
from wacloud.meta.outbound import Recipient
from wacloud.meta.templates import MARKETING
from wacloud.sender.catalog import TemplateCatalog
from wacloud.sender.queue import OutboundQueue
from wacloud.sender.retry import Deadline
from wacloud.table.ledger import SendLedger
from wacloud.table.store import ContactProfile, ConversationStore

REMINDER_JOB = "reminder"
FANOUT_JOB = "reminder_fanout"
PAGE_SIZE = 1000
# Below this much time left the run hands the rest to a continuation job rather than start a
# page it might not finish (a page is one query and ~100 parallel SendMessageBatch calls).
CONTINUE_BELOW_SECONDS = 10.0

_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# The validators below are built on first use (defer_build): only the reminder's jobs need them,
# and building them at import lengthened every cold start of the sender, sends included.
_RECIPIENT: TypeAdapter[str] = TypeAdapter(Recipient, config=ConfigDict(defer_build=True))


class ReminderJob(BaseModel):
    """One contact's reminder of one day."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    job: Literal["reminder"] = "reminder"
    date: str = Field(pattern=_DATE)
    wa_id: str = Field(min_length=1)
    name: str | None = None

    @property
    def idempotency_key(self) -> str:
        return f"reminder:{self.date}:{self.wa_id}"


class FanoutJob(BaseModel):
    """The rest of a day's fan-out, from ``cursor`` (the listing's LastEvaluatedKey)."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    job: Literal["reminder_fanout"] = "reminder_fanout"
    date: str = Field(pattern=_DATE)
    cursor: dict[str, str]
    enqueued: int = 0


@dataclass(frozen=True)
class FanoutSummary:
    date: str
    enqueued: int = 0
    skipped: int = 0
    finished: bool = False
    continued: bool = False
    already_done: bool = False


def reminder_day(when: datetime, settings: ReminderSettings) -> str:
    """The calendar day ``when`` falls on in the reminder's time zone."""
    return when.astimezone(settings.timezone).date().isoformat()


def scheduled_time(event: Mapping[str, Any]) -> datetime | None:
    """The time whose day the run is for, when the event names one (a manual run for a given day).

    The schedule's own input names none: the run is for the day it runs, in the reminder's zone.
    """
    value = event.get("scheduled_time")
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"scheduled_time must be an ISO 8601 time, got {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def is_stale(job: ReminderJob, now: datetime, settings: ReminderSettings) -> bool:
    """Older than yesterday: a queue backlog or a replay from the dead-letter queue, not today's news."""
    today = now.astimezone(settings.timezone).date()
    return date.fromisoformat(job.date) < today - timedelta(days=1)


def reminder_request(job: ReminderJob, settings: ReminderSettings) -> dict[str, Any]:
    """The send request of a reminder job: the configured template, named parameter optional."""
    template: dict[str, Any] = {
        "name": settings.template_name,
        "language": {"code": settings.template_language},
    }
    if settings.name_parameter:
        # Meta refuses text parameters with newlines, tabs or runs of spaces.
        name = " ".join((job.name or "").split()) or settings.name_fallback
        template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": name}]}]
    # A contact known only by a business-scoped id (no number shared) is addressed by it.
    address = "recipient" if is_business_scoped_id(job.wa_id) else "to"
    return {
        address: job.wa_id,
        "type": "template",
        "template": template,
        "idempotency_key": job.idempotency_key,
    }


class ReminderFanout:
    def __init__(
        self,
        store: ConversationStore,
        queue: OutboundQueue,
        ledger: SendLedger,
        settings: ReminderSettings,
        *,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] = time.time,
        catalog: TemplateCatalog | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        self._ledger = ledger
        self._settings = settings
        self._page_size = page_size
        self._clock = clock
        self._catalog = catalog

    def marketing(self) -> bool:
        """Whether the reminder is a marketing template: the catalog's category of it when the
        catalog knows it, else the ``ReminderTemplateCategory`` setting."""
        if self._catalog is not None:
            category = self._catalog.category(self._settings.template_name, self._settings.template_language)
            if category is not None:
                return category == MARKETING
        return self._settings.marketing

    def start(self, when: datetime | None, deadline: Deadline) -> FanoutSummary:
        day = reminder_day(when or datetime.fromtimestamp(self._clock(), UTC), self._settings)
        if self._ledger.reminder_run_finished(day):
            logger.info("reminders already enqueued for the day", extra={"date": day})
            return FanoutSummary(day, already_done=True)
        return self._run(day, None, 0, deadline)

    def resume(self, job: FanoutJob, deadline: Deadline) -> FanoutSummary:
        return self._run(job.date, job.cursor, job.enqueued, deadline)

    def _run(
        self, day: str, cursor: dict[str, str] | None, enqueued: int, deadline: Deadline
    ) -> FanoutSummary:
        skipped = 0
        marketing = self.marketing()
        while True:
            page = self._store.opted_in_contacts(cursor, self._page_size, exclude_marketing_stopped=marketing)
            jobs: list[str] = []
            for contact in page.contacts:
                job = self._job(day, contact)
                if job is None:
                    skipped += 1
                else:
                    jobs.append(job.model_dump_json())
            sent = self._queue.send(jobs)
            enqueued += sent
            metrics.count("RemindersQueued", sent)
            metrics.count("RemindersSkipped", len(page.contacts) - len(jobs))
            cursor = page.cursor
            if cursor is None:
                self._ledger.finish_reminder_run(day, enqueued)
                metrics.count("ReminderRunsFinished")
                logger.info(
                    "reminders enqueued", extra={"date": day, "enqueued": enqueued, "skipped": skipped}
                )
                return FanoutSummary(day, enqueued, skipped, finished=True)
            if not deadline.allows(CONTINUE_BELOW_SECONDS):
                rest = FanoutJob(date=day, cursor=cursor, enqueued=enqueued)
                self._queue.send([rest.model_dump_json()])
                metrics.count("ReminderRunsContinued")
                logger.info(
                    "reminder fan-out continues in a queued job", extra={"date": day, "enqueued": enqueued}
                )
                return FanoutSummary(day, enqueued, skipped, continued=True)

    def _job(self, day: str, contact: ContactProfile) -> ReminderJob | None:
        try:
            # Profiles keyed by a business-scoped user id, not a phone number, cannot be sent to.
            _RECIPIENT.validate_python(contact.wa_id)
        except ValidationError:
            return None
        return ReminderJob(date=day, wa_id=contact.wa_id, name=contact.name)


def queued_job_kind(data: Any) -> str | None:
    """``reminder`` or ``reminder_fanout`` for a queued job, None for a send request."""
    kind = data.get("job") if isinstance(data, Mapping) else None
    return kind if kind in (REMINDER_JOB, FANOUT_JOB) else None
