"""The daily reminder: the schedule's fan-out over opted-in contacts, and the sends of its jobs.

End to end on the emulated stack: contacts are written by the processor's store, the schedule
event goes through the sender's handler, and the queued jobs are consumed by the sender as
Lambda's SQS event source would (walocal's poller, with the template's batch size).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from support.aws import REGION, queue_messages
from support.contacts import SeedingStore
from support.fake_graph import FakeGraphServer, graph_error
from wacloud.core.errors import ConfigurationError
from wacloud.core.settings import ReminderSettings
from wacloud.meta.outbound import parse_send_request
from wacloud.meta.templates import TemplateDefinition
from wacloud.sender.catalog import TemplateCatalog
from wacloud.sender.queue import OutboundQueue
from wacloud.sender.reminders import (
    FanoutJob,
    ReminderFanout,
    ReminderJob,
    is_stale,
    reminder_day,
    reminder_request,
    scheduled_time,
)
from wacloud.sender.retry import Deadline
from wacloud.table.facets import consent_facet, inbound_facet, name_facet
from wacloud.table.keys import PROFILE_SK, contact_pk, reminder_run_pk
from wacloud.table.ledger import SendLedger
from wacloud.table.templates import TemplateCatalogStore
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.poller import QueuePoller
from walocal.provision import LocalStack
from walocal.template import Template

NOW = int(time.time())
SCHEDULE = {"source": "schedule", "job": "daily_reminder", "scheduled_time": "2027-03-14T09:00:00Z"}
SETTINGS = ReminderSettings(
    template_name="daily_reminder",
    template_language="en_US",
    timezone=ZoneInfo("UTC"),
    name_parameter=True,
    name_fallback="there",
    category="UTILITY",
)


@pytest.fixture(autouse=True)
def cheap_sqs_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's ReceiveMessage reads its clock for every message of the queue, through a slow
    datetime round trip, per message returned: a thousand jobs take 20 s to drain. The same
    clock, read directly, keeps every semantic of the emulated queue."""
    import moto.core.utils  # noqa: PLC0415 (only this shim reaches into the emulator)

    def now(dt: datetime | None = None) -> float:
        return time.time() if dt is None else moto.core.utils.unix_time(dt)

    monkeypatch.setattr("moto.sqs.models.unix_time", now)
    monkeypatch.setattr("moto.sqs.models.unix_time_millis", lambda dt=None: now(dt) * 1000.0)


def store(stack: LocalStack) -> SeedingStore:
    return SeedingStore(_table(stack))


def _table(stack: LocalStack) -> Any:
    return boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])


def add_contacts(stack: LocalStack, opted_in: int, opted_out: int, silent: int) -> list[str]:
    """Contact profiles as the processor's store shapes them; the wa_ids of those opted in.

    Written in one batch from the store's own facets (what ``record_consent`` and
    ``record_inbound`` write), which is much faster in the emulator than one update per facet.
    """
    ids = [f"1555{n:07d}" for n in range(opted_in + opted_out + silent)]
    profiles = []
    for index, wa_id in enumerate(ids):
        facets = []
        if index < opted_in + opted_out:
            said_start = index < opted_in
            reason = "keyword:START" if said_start else "keyword:STOP"
            facets.append(consent_facet(NOW - 3600, f"wamid.K{index}", said_start, reason))
        if index % 3 == 0:  # a third have written at some point, with a profile name
            facets += [
                inbound_facet(NOW - 7200, f"wamid.I{index}"),
                name_facet(NOW - 7200, f"wamid.I{index}", f"Name {index}"),
            ]
        profile: dict[str, Any] = {"pk": contact_pk(wa_id), "sk": PROFILE_SK, "wa_id": wa_id}
        for facet in facets:
            profile |= {facet.key_attribute: facet.key, **facet.values}
        profiles.append(profile)
    store(stack).put_items(profiles)
    return ids[:opted_in]


def take_jobs(stack: LocalStack, leave: bool = False) -> list[dict[str, Any]]:
    """The queued bodies: removed from the queue, or with ``leave`` visible again at once."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = stack.queue_urls["OutboundQueue"]
    messages = queue_messages(stack, "OutboundQueue")
    for start in range(0, len(messages), 10):
        handles = [
            (str(index), str(m["ReceiptHandle"])) for index, m in enumerate(messages[start : start + 10])
        ]
        if leave:
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": id_, "ReceiptHandle": handle, "VisibilityTimeout": 0} for id_, handle in handles
                ],
            )
        else:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": id_, "ReceiptHandle": handle} for id_, handle in handles]
            )
    return [json.loads(message["Body"]) for message in messages]


def drain(stack: LocalStack, template: Template, sender: LocalFunction) -> int:
    """Deliver the outbound queue to the sender until it is empty; the records handled."""
    [source] = [s for s in template.queue_sources() if s.queue == "OutboundQueue"]
    poller = QueuePoller(
        boto3.client("sqs", region_name=REGION),
        source,
        queue_url=stack.queue_urls["OutboundQueue"],
        queue_arn=stack.resolver.resolve({"Fn::GetAtt": ["OutboundQueue", "Arn"]}),
        function=sender,
    )
    handled = 0
    while (batch := poller.poll_once(wait_seconds=0)) > 0:
        handled += batch
    return handled


def reminder_recipients(graph: FakeGraphServer) -> Counter[str]:
    return Counter(
        request.body["to"] for request in graph.fake.requests if request.body.get("type") == "template"
    )


@pytest.mark.slow
def test_daily_reminder_reaches_every_opted_in_contact_exactly_once(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack, template: Template
) -> None:
    opted_in = add_contacts(stack, opted_in=1000, opted_out=150, silent=60)

    summary = sender.invoke(SCHEDULE)
    assert (summary["date"], summary["enqueued"], summary["finished"]) == ("2027-03-14", 1000, True)
    assert drain(stack, template, sender) == 1000

    assert reminder_recipients(graph) == Counter(opted_in)  # each opted-in contact once, nobody else
    bodies = {request.body["to"]: request.body for request in graph.fake.requests}
    assert bodies["15550000003"]["template"]["components"][0]["parameters"][0]["text"] == "Name 3"
    assert bodies["15550000001"]["template"]["components"][0]["parameters"][0]["text"] == "there"
    message = store(stack).conversation("15550000003")[-1]
    assert message["idempotency_key"] == "reminder:2027-03-14:15550000003"

    # The same day's schedule again (Scheduler delivers at least once): nothing more is sent.
    again = sender.invoke(SCHEDULE)
    assert (again["enqueued"], again["already_done"]) == (0, True)
    drain(stack, template, sender)
    assert len(graph.fake.requests) == 1000


def test_the_schedules_own_event_is_for_today_in_the_reminder_time_zone(
    sender: LocalFunction, stack: LocalStack
) -> None:
    add_contacts(stack, opted_in=2, opted_out=0, silent=0)
    before = datetime.now(UTC).date().isoformat()
    summary = sender.invoke(load_event("scheduler/daily_reminder.json"))
    assert summary["date"] in (before, datetime.now(UTC).date().isoformat())  # the template's zone is UTC
    assert summary["enqueued"] == 2
    assert sorted(ReminderJob.model_validate(job).idempotency_key for job in take_jobs(stack)) == [
        f"reminder:{summary['date']}:15550000000",
        f"reminder:{summary['date']}:15550000001",
    ]


def test_a_repeated_run_that_enqueues_again_sends_no_duplicates(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack, template: Template
) -> None:
    opted_in = add_contacts(stack, opted_in=25, opted_out=5, silent=5)
    assert sender.invoke(SCHEDULE)["enqueued"] == 25
    drain(stack, template, sender)
    # A run that died before marking the day done is retried and enqueues every job again.
    _table(stack).delete_item(Key={"pk": reminder_run_pk("2027-03-14"), "sk": "RUN"})
    assert sender.invoke(SCHEDULE)["enqueued"] == 25
    assert drain(stack, template, sender) == 25
    assert reminder_recipients(graph) == Counter(opted_in)


def test_the_same_days_schedule_again_enqueues_nothing(sender: LocalFunction, stack: LocalStack) -> None:
    add_contacts(stack, opted_in=3, opted_out=1, silent=0)
    assert sender.invoke(SCHEDULE)["enqueued"] == 3
    take_jobs(stack)
    again = sender.invoke(SCHEDULE)
    assert (again["enqueued"], again["already_done"]) == (0, True)
    assert take_jobs(stack) == []


def test_unknown_time_zone_stops_the_cold_start() -> None:
    env = {"REMINDER_TEMPLATE_NAME": "t", "REMINDER_TEMPLATE_LANGUAGE": "en", "REMINDER_NAME_FALLBACK": "x"}
    assert ReminderSettings.from_env(env).timezone is UTC
    assert ReminderSettings.from_env({**env, "REMINDER_TIMEZONE": "Europe/Madrid"}).timezone == ZoneInfo(
        "Europe/Madrid"
    )
    with pytest.raises(ConfigurationError, match="IANA time zone"):
        ReminderSettings.from_env({**env, "REMINDER_TIMEZONE": "Mars/Olympus_Mons"})
    with pytest.raises(ConfigurationError, match="IANA time zone"):
        ReminderSettings.from_env({**env, "REMINDER_TIMEZONE": "Europe"})


def test_next_day_sends_again(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack, template: Template
) -> None:
    add_contacts(stack, opted_in=3, opted_out=0, silent=0)
    sender.invoke(SCHEDULE)
    sender.invoke({**SCHEDULE, "scheduled_time": "2027-03-15T09:00:00Z"})
    drain(stack, template, sender)
    assert sorted(reminder_recipients(graph).values()) == [2, 2, 2]


def test_contact_who_says_stop_after_the_fanout_gets_no_reminder(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack, template: Template
) -> None:
    add_contacts(stack, opted_in=2, opted_out=0, silent=0)
    sender.invoke(SCHEDULE)
    store(stack).record_consent("15550000000", False, NOW, "wamid.STOP", "keyword:STOP")
    drain(stack, template, sender)
    assert reminder_recipients(graph) == Counter(["15550000001"])


def test_throttled_reminder_comes_back_from_the_queue(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack, template: Template
) -> None:
    add_contacts(stack, opted_in=1, opted_out=0, silent=0)
    sender.invoke(SCHEDULE)
    graph.fake.script.extend([graph_error(130429)] * 6)  # every attempt of the first delivery
    sqs = boto3.client("sqs", region_name=REGION)
    url = stack.queue_urls["OutboundQueue"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})  # redeliver at once
    drain(stack, template, sender)
    assert len(graph.fake.requests) == 7
    assert reminder_recipients(graph) == Counter({"15550000000": 7})
    assert graph.fake.requests[-1].body["to"] == "15550000000"
    assert queue_messages(stack, "OutboundQueue") == []


def test_fanout_near_its_deadline_continues_in_a_queued_job(
    sender: LocalFunction, graph: FakeGraphServer, stack: LocalStack, template: Template
) -> None:
    opted_in = add_contacts(stack, opted_in=45, opted_out=10, silent=0)
    table = _table(stack)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = OutboundQueue(sqs, stack.queue_urls["OutboundQueue"])
    fanout = ReminderFanout(SeedingStore(table), queue, SendLedger(table), SETTINGS, page_size=10)
    summary = fanout.start(datetime(2027, 3, 14, 9, tzinfo=UTC), Deadline(5))  # under 10 s left
    assert summary.continued
    assert not summary.finished
    queued = take_jobs(stack, leave=True)
    [continuation] = [body for body in queued if body["job"] == "reminder_fanout"]
    assert FanoutJob.model_validate(continuation).enqueued == summary.enqueued == len(queued) - 1 < 45

    drain(stack, template, sender)  # the sender picks up the continuation and the jobs
    assert reminder_recipients(graph) == Counter(opted_in)
    assert SendLedger(table).reminder_run_finished("2027-03-14")


def test_only_reachable_opted_in_contacts_are_listed(stack: LocalStack) -> None:
    contacts = store(stack)
    contacts.record_consent("15550000001", True, NOW, "wamid.A", "keyword:START")
    contacts.record_consent("15550000002", True, NOW, "wamid.B", "keyword:START")
    contacts.record_number_change("15550000002", "15550000009", NOW + 1, "wamid.C")
    contacts.record_consent("user.AbCd", True, NOW, "wamid.D", "keyword:START")  # no phone number
    contacts.record_consent("15550000003", True, NOW, "wamid.E", "keyword:START")
    contacts.record_marketing_stopped("15550000003", NOW + 1, "wamid.F")
    table = _table(stack)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = OutboundQueue(sqs, stack.queue_urls["OutboundQueue"])

    def listed(category: str) -> list[str]:
        settings = ReminderSettings(**{**SETTINGS.__dict__, "category": category})
        day = {"UTILITY": 14, "MARKETING": 15}[category]
        ReminderFanout(SeedingStore(table), queue, SendLedger(table), settings).start(
            datetime(2027, 3, day, tzinfo=UTC), Deadline(60)
        )
        return sorted(job["wa_id"] for job in take_jobs(stack))

    assert listed("UTILITY") == ["15550000001", "15550000003"]
    assert listed("MARKETING") == ["15550000001"]


@pytest.mark.parametrize(
    ("catalog", "setting", "listed"),
    [
        # The catalog knows the reminder template: its category decides, whatever the setting.
        ("MARKETING", "UTILITY", ["15550000001", "15550000004"]),
        ("UTILITY", "MARKETING", ["15550000001", "15550000002", "15550000003", "15550000004"]),
        # The catalog does not know it (another template only): the setting decides.
        (None, "MARKETING", ["15550000001", "15550000004"]),
        (None, "UTILITY", ["15550000001", "15550000002", "15550000003", "15550000004"]),
    ],
)
def test_a_marketing_reminder_leaves_out_stopped_contacts_and_takes_back_resumed_ones(
    stack: LocalStack, catalog: str | None, setting: str, listed: list[str]
) -> None:
    contacts = store(stack)
    for wa_id in ("15550000001", "15550000002", "15550000003", "15550000004"):
        contacts.record_consent(wa_id, True, NOW, f"wamid.{wa_id}", "keyword:START")
    contacts.record_marketing_stopped("15550000002", NOW + 1, "wamid.F")  # a 131050 failure
    contacts.record_marketing_preference("15550000003", NOW + 1, stopped=True)  # their own stop
    contacts.record_marketing_stopped("15550000004", NOW + 1, "wamid.G")
    contacts.record_marketing_preference("15550000004", NOW + 2, stopped=False)  # resumed since
    table = _table(stack)
    templates = [TemplateDefinition("hello_world", "en_US", "APPROVED", "UTILITY")]
    if catalog is not None:
        templates.append(TemplateDefinition("daily_reminder", "en_US", "APPROVED", catalog, body_params=1))
    TemplateCatalogStore(table).replace(templates)
    queue = OutboundQueue(boto3.client("sqs", region_name=REGION), stack.queue_urls["OutboundQueue"])
    settings = ReminderSettings(**{**SETTINGS.__dict__, "category": setting})
    fanout = ReminderFanout(
        SeedingStore(table),
        queue,
        SendLedger(table),
        settings,
        catalog=TemplateCatalog(TemplateCatalogStore(table)),
    )
    fanout.start(datetime(2027, 3, 14, tzinfo=UTC), Deadline(60))
    assert sorted(job["wa_id"] for job in take_jobs(stack)) == listed


# ---------------------------------------------------------------------- day, staleness, message
@pytest.mark.parametrize(
    ("zone", "when", "day"),
    [
        ("UTC", "2027-03-14T09:00:00Z", "2027-03-14"),
        ("Pacific/Auckland", "2027-03-13T21:00:00Z", "2027-03-14"),  # 10:00 on the 14th there
        ("America/Los_Angeles", "2027-03-14T06:00:00Z", "2027-03-13"),  # 23:00 on the 13th there
    ],
)
def test_the_day_is_the_schedules_day_in_the_reminder_time_zone(zone: str, when: str, day: str) -> None:
    settings = ReminderSettings(**{**SETTINGS.__dict__, "timezone": ZoneInfo(zone)})
    moment = scheduled_time({"scheduled_time": when})
    assert moment is not None
    assert reminder_day(moment, settings) == day


def test_schedule_without_a_time_uses_now_and_a_malformed_time_is_refused() -> None:
    assert scheduled_time({"source": "schedule"}) is None
    with pytest.raises(ValueError, match="ISO 8601"):
        scheduled_time({"scheduled_time": "<aws.scheduler.scheduled-time>"})


def test_reminders_older_than_yesterday_are_stale() -> None:
    now = datetime(2027, 3, 14, 9, tzinfo=UTC)
    job = ReminderJob(date="2027-03-13", wa_id="15550000001")
    assert not is_stale(job, now, SETTINGS)
    assert is_stale(job.model_copy(update={"date": "2027-03-12"}), now, SETTINGS)


def test_reminder_message_uses_the_configured_template_and_a_clean_name() -> None:
    job = ReminderJob(date="2027-03-14", wa_id="15550000001", name="  Ana\n María  ")
    assert reminder_request(job, SETTINGS) == {
        "to": "15550000001",
        "type": "template",
        "template": {
            "name": "daily_reminder",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana María"}]}],
        },
        "idempotency_key": "reminder:2027-03-14:15550000001",
    }
    plain = ReminderSettings(**{**SETTINGS.__dict__, "name_parameter": False})
    assert "components" not in reminder_request(job, plain)["template"]


def test_a_contact_known_by_business_scoped_id_alone_is_reminded_by_it() -> None:
    job = ReminderJob(date="2027-03-14", wa_id="US.13491208655302741918", name="Ana")
    request = reminder_request(job, SETTINGS)
    assert request["recipient"] == "US.13491208655302741918"
    assert "to" not in request
    # And the sender's contract takes it.
    [item] = parse_send_request(request)
    assert item.to_graph_body()["recipient"] == "US.13491208655302741918"


def test_fanout_enqueues_in_batches_of_ten(stack: LocalStack) -> None:
    calls: list[int] = []
    sqs = boto3.client("sqs", region_name=REGION)
    real = sqs.send_message_batch

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Entries"]))
        return real(**kwargs)

    sqs.send_message_batch = counting  # type: ignore[method-assign]
    bodies = [json.dumps({"n": n, "pad": random.random()}) for n in range(95)]
    assert OutboundQueue(sqs, stack.queue_urls["OutboundQueue"]).send(bodies) == 95
    assert sorted(calls) == [5] + [10] * 9
    assert len(queue_messages(stack, "OutboundQueue")) == 95
