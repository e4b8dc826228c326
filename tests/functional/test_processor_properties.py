"""Arrival order and duplicates do not change what the processor stores.

Meta sends updates in no particular order, batches them as it likes and redelivers for days; SQS
adds its own duplicates and reordering. For a generated set of inbound messages (consent keywords
included) and statuses (equal timestamps included), every delivery of them, in any order, with
any duplicates, alone or batched, must leave the table exactly as processing each POST once in
timestamp order does, and (raw archive aside, which is per POST) as processing each update alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from support.aws import REGION, table_items
from wacloud.core.settings import ProcessorSettings
from wacloud.processor.updates import WebhookProcessor
from wacloud.table.store import ConversationStore
from wacloud.webhook.envelope import QueuedWebhook
from walocal.provision import LocalStack, provision
from walocal.template import Template

WABA_ID = "102290129340398"
METADATA = {"display_phone_number": "15550001234", "phone_number_id": "123456789012345"}
T0 = 1763700000
CONTACTS = {
    "16505551234": ("Kerry Fisher", "Kerry F."),
    "16505559876": ("Alex Moreno", "Alex"),
    "447700900123": ("Priya Shah", "Priya"),
}
TEXTS = ("STOP", "START", "stop ", "Unsubscribe", "Hello", "Where is my order?")
OUTBOUND = tuple(f"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIzQTAwT1VUQk9VTkQw{i}AA==" for i in range(4))
OUTBOUND_TO = dict(zip(OUTBOUND, ("16505551234", "16505559876", "16505551234", "447700900123"), strict=True))
FAILURE_CODES = (131026, 131047, 131050)


@dataclass(frozen=True)
class Inbound:
    wamid: str
    wa_id: str
    timestamp: int
    text: str
    name: str | None  # None: the change carries no contacts entry for the sender

    def message(self) -> dict[str, Any]:
        return {
            "from": self.wa_id,
            "id": self.wamid,
            "timestamp": str(self.timestamp),
            "text": {"body": self.text},
            "type": "text",
        }


@dataclass(frozen=True)
class StatusUpdate:
    wamid: str
    status: str
    timestamp: int
    error_code: int | None
    with_recipient: bool  # business-scoped ids may come instead of the number

    def status_object(self) -> dict[str, Any]:
        status: dict[str, Any] = {"id": self.wamid, "status": self.status, "timestamp": str(self.timestamp)}
        if self.with_recipient:
            status["recipient_id"] = OUTBOUND_TO[self.wamid]
        if self.error_code is not None:
            status["errors"] = [{"code": self.error_code, "title": f"error {self.error_code}"}]
        return status


Update = Inbound | StatusUpdate


def sort_key(update: Update) -> tuple[int, str, str]:
    kind = update.status if isinstance(update, StatusUpdate) else "inbound"
    return (update.timestamp, update.wamid, kind)


def payload_body(updates: Sequence[Update]) -> str:
    """One POST: messages grouped in changes by sender and profile name (one contacts entry each),
    statuses in a change without contacts, as Meta sends them."""
    changes: list[dict[str, Any]] = []
    senders: dict[tuple[str, str | None], dict[str, Any]] = {}
    statuses: dict[str, Any] | None = None
    for update in updates:
        if isinstance(update, Inbound):
            value = senders.get((update.wa_id, update.name))
            if value is None:
                value = {"messaging_product": "whatsapp", "metadata": METADATA, "messages": []}
                if update.name is not None:
                    value["contacts"] = [{"profile": {"name": update.name}, "wa_id": update.wa_id}]
                senders[(update.wa_id, update.name)] = value
                changes.append({"value": value, "field": "messages"})
            value["messages"].append(update.message())
        else:
            if statuses is None:
                statuses = {"messaging_product": "whatsapp", "metadata": METADATA, "statuses": []}
                changes.append({"value": statuses, "field": "messages"})
            statuses["statuses"].append(update.status_object())
    payload = {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": changes}]}
    return json.dumps(payload, separators=(",", ":"))


def webhook(body: str, copy: int) -> QueuedWebhook:
    """Copy 0 is the first POST; copy k a redelivery k minutes later (a new request and SQS message).

    Each body has a fixed receipt time, as one POST's redeliveries carry the same body.
    """
    digest = hashlib.sha256(body.encode()).hexdigest()
    timestamps = [int(t) for t in _timestamps(json.loads(body))]
    received_at_ms = (max(timestamps) + 3) * 1000 + int(digest[:3], 16) + copy * 60_000
    return QueuedWebhook(
        message_id=f"{digest[:8]}-{copy}",
        body=body,
        location="inline",
        received_at_ms=received_at_ms,
        request_id=f"req-{digest[8:16]}-{copy}",
    )


def _timestamps(payload: dict[str, Any]) -> Iterator[str]:
    for change in payload["entry"][0]["changes"]:
        for update in change["value"].get("messages", []) + change["value"].get("statuses", []):
            yield update["timestamp"]


inbound_updates = st.lists(
    st.tuples(
        st.sampled_from(sorted(CONTACTS)),
        st.integers(0, 5),
        st.sampled_from(TEXTS),
        st.sampled_from((0, 1, None)),
    ),
    max_size=6,
).map(
    lambda drawn: [
        Inbound(
            wamid=f"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUlOQk9VTkQw{i:02d}AA==",
            wa_id=wa_id,
            timestamp=T0 + offset,
            text=text,
            name=None if name is None else CONTACTS[wa_id][name],
        )
        for i, (wa_id, offset, text, name) in enumerate(drawn)
    ]
)


@st.composite
def status_update(draw: st.DrawFn) -> StatusUpdate:
    status = draw(st.sampled_from(("sent", "delivered", "read", "failed")))
    return StatusUpdate(
        wamid=draw(st.sampled_from(OUTBOUND)),
        status=status,
        timestamp=draw(st.integers(T0, T0 + 5)),
        error_code=draw(st.sampled_from(FAILURE_CODES)) if status == "failed" else None,
        with_recipient=draw(st.booleans()),
    )


status_updates = st.lists(
    status_update(),
    max_size=7,
    # Meta sends one event per message, status and second; the history is keyed by those.
    unique_by=lambda s: (s.wamid, s.status, s.timestamp),
)


@dataclass
class Harness:
    stack: LocalStack
    processor: WebhookProcessor
    processor_store: ConversationStore

    def run(self, deliveries: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
        table = boto3.resource("dynamodb", region_name=REGION).Table(self.stack.table_names["MessagesTable"])
        with table.batch_writer() as batch:
            for item in table_items(self.stack):
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
        for body, copy in deliveries:
            self.processor.process(webhook(body, copy))
        return table_items(self.stack)


@pytest.fixture
def harness(aws_credentials: None, template: Template) -> Iterator[Harness]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        stack = provision(template, session)
        table = session.resource("dynamodb").Table(stack.table_names["MessagesTable"])
        settings_ = ProcessorSettings.from_env(
            {"TABLE_NAME": table.name, "PAYLOAD_BUCKET": stack.bucket_names["PayloadBucket"]}
        )
        store = ConversationStore(table)
        yield Harness(stack, WebhookProcessor(store, lambda: session.client("s3"), settings_), store)


def without_raw(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in items if not item["pk"].startswith("RAW#")]


@pytest.mark.slow
def test_any_order_and_duplication_gives_the_state_of_one_ordered_pass(harness: Harness) -> None:
    # The harness (moto and the template's resources) is built once; each example empties the table.
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(inbound=inbound_updates, statuses=status_updates, data=st.data())
    def check(inbound: list[Inbound], statuses: list[StatusUpdate], data: st.DataObject) -> None:
        updates: list[Update] = [*inbound, *statuses]
        if not updates:
            return
        # How Meta batched them: a shuffled order cut into POSTs; some updates also come alone.
        shuffled = data.draw(st.permutations(updates), label="order")
        groups = data.draw(
            st.lists(st.integers(0, 3), min_size=len(shuffled), max_size=len(shuffled)), label="batch"
        )
        alone = data.draw(
            st.lists(st.booleans(), min_size=len(shuffled), max_size=len(shuffled)), label="alone"
        )
        posts: dict[str, None] = {}
        for group in sorted(set(groups)):
            posts[payload_body([u for u, g in zip(shuffled, groups, strict=True) if g == group])] = None
        posts.update({payload_body([u]): None for u, single in zip(shuffled, alone, strict=True) if single})
        bodies = list(posts)
        # How they arrive: every POST at least once, plus SQS duplicates (copy 0 again) and Meta
        # redeliveries (later copies), in any order.
        extra = data.draw(
            st.lists(st.tuples(st.sampled_from(bodies), st.integers(0, 2)), max_size=len(bodies) + 2),
            label="dups",
        )
        deliveries = data.draw(st.permutations([(body, 0) for body in bodies] + extra), label="arrival")

        delivered = harness.run(deliveries)
        in_order = harness.run([(body, 0) for body in sorted(bodies, key=_first_timestamp)])
        assert delivered == in_order
        one_by_one = harness.run([(payload_body([u]), 0) for u in sorted(updates, key=sort_key)])
        assert without_raw(delivered) == without_raw(one_by_one)

    check()


def _first_timestamp(body: str) -> tuple[int, str]:
    return (min(int(t) for t in _timestamps(json.loads(body))), body)


def test_an_earlier_named_message_arriving_last_still_names_the_contact(harness: Harness) -> None:
    named = Inbound(
        "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUlOQk9VTkQwMDAA", "16505551234", T0, "Hello", "Kerry Fisher"
    )
    unnamed = Inbound(
        "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUlOQk9VTkQwMDEA", "16505551234", T0 + 5, "STOP", None
    )
    newest_first = harness.run([(payload_body([unnamed]), 0), (payload_body([named]), 0)])
    oldest_first = harness.run([(payload_body([named]), 0), (payload_body([unnamed]), 0)])
    assert newest_first == oldest_first
    profile = harness.processor_store.profile("16505551234")
    assert profile is not None
    assert (profile["profile_name"], profile["last_inbound_wamid"], profile["opted_in"]) == (
        "Kerry Fisher",
        unnamed.wamid,
        False,
    )


def test_a_recipient_is_kept_when_only_an_older_status_carried_it(harness: Harness) -> None:
    wamid = OUTBOUND[0]
    sent = StatusUpdate(wamid, "sent", T0, None, with_recipient=True)
    read = StatusUpdate(wamid, "read", T0 + 9, None, with_recipient=False)
    state = harness.run([(payload_body([read]), 0), (payload_body([sent]), 0)])
    (message,) = [item for item in state if item["sk"] == "MESSAGE"]
    assert (message["status"], message["recipient_id"]) == ("read", OUTBOUND_TO[wamid])
