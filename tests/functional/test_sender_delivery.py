"""Delivery rules of the sender: Meta's error remedies, deadline, 24-hour window, opt-out, idempotency.

The sender runs against the emulated table (moto) and a scripted Graph API on loopback, with a
fake clock for its waits, deadline, lease and window, so retries cost no real time. The module
shares one emulated account and gives each test a fresh table from template.yaml's definition.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from support.aws import REGION
from support.clock import FakeTime
from support.contacts import SeedingStore
from support.fake_graph import FakeGraphServer, Reply, graph_error
from support.sender_events import refusing_port
from wacloud.core.credentials import AccessToken, CredentialsCache
from wacloud.meta.graph_client import GraphClient, GraphEndpoint, graph_pool
from wacloud.meta.outbound import OutboundItem, SendResult, parse_send_request
from wacloud.sender.delivery import MessageSender, RetryBy, SendReport
from wacloud.sender.rate_limit import Pacer
from wacloud.sender.retry import Deadline, RetryPolicy
from wacloud.table.errors import TableUnavailableError
from wacloud.table.keys import day_of
from wacloud.table.ledger import SendLedger, Taken, request_fingerprint
from wacloud.table.pacing import PairPacer, SharedPacer
from walocal.provision import provision
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_PHONE_NUMBER_ID
from walocal.simulator.limits import TokenBucketLimit
from walocal.simulator.state import busiest_second
from walocal.template import Template

# Its module-scoped fixture is costly: its tests stay together on one worker of a parallel run.
pytestmark = pytest.mark.xdist_group("sender_delivery")

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

USER = "15551234567"
START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
REQUEST_SECONDS = 3.05 + 10.0  # the client's connect + read timeouts
SECRET = {
    "access_token": LOCAL_ACCESS_TOKEN,
}


@dataclass
class Rig:
    secret_arn: str
    graph: FakeGraphServer
    clock: FakeTime
    store: SeedingStore
    ledger: SendLedger
    table: Table

    def sender(
        self,
        retry: RetryPolicy | None = None,
        rate: int = 10_000,  # no wait for a turn, unless a test is about them
        graph_url: str | None = None,
        pacer: Pacer | None = None,
        *,
        secrets: Any = None,
        secret_max_age: float = 300.0,
    ) -> MessageSender:
        secrets = secrets or boto3.client("secretsmanager", region_name=REGION)
        return MessageSender(
            graph=GraphClient(
                graph_pool(),
                GraphEndpoint(graph_url or self.graph.url, "v24.0", LOCAL_PHONE_NUMBER_ID),
                clock=self.clock,
            ),
            credentials=CredentialsCache(
                secrets,
                self.secret_arn,
                AccessToken.from_secret_string,
                clock=self.clock,
                max_age_seconds=secret_max_age,
            ),
            store=self.store,
            ledger=self.ledger,
            limiter=pacer
            or SharedPacer(self.table, LOCAL_PHONE_NUMBER_ID, rate, clock=self.clock, sleep=self.clock.sleep),
            pairs=PairPacer(self.table, LOCAL_PHONE_NUMBER_ID, clock=self.clock),
            retry=retry or RetryPolicy(rng=random.Random(5)),
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def send(
        self, *items: OutboundItem, seconds: float = 60.0, sender: MessageSender | None = None, **options: Any
    ) -> SendReport:
        return (sender or self.sender()).send_all(list(items), Deadline(seconds, self.clock), **options)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [request.body for request in self.graph.fake.requests]

    def script(self, *answers: Any) -> None:
        self.graph.fake.script.extend(answers)

    def inbound(self, hours_ago: float, wa_id: str = USER) -> None:
        self.store.record_inbound(
            wa_id, int(self.clock.now - hours_ago * 3600), f"wamid.IN{hours_ago}", "Maria"
        )

    def failed_sends(self) -> list[dict[str, Any]]:
        return [item for item in self.store.failed_messages(day_of(self.clock.now)) if "send_id" in item]


@pytest.fixture(scope="module")
def secret_arn() -> Iterator[str]:
    """An emulated account for the module, with the WhatsApp secret; nothing reaches a real one."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            env.setenv(name, value)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            secrets = boto3.client("secretsmanager", region_name=REGION)
            yield secrets.create_secret(Name="whatsapp", SecretString=json.dumps(SECRET))["ARN"]


@pytest.fixture
def table(secret_arn: str, template: Template) -> Iterator[Table]:
    only_the_table = Template({"Resources": {"MessagesTable": template.resources["MessagesTable"]}})
    stack = provision(only_the_table, boto3.Session(region_name=REGION))
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    yield table
    table.delete()


@pytest.fixture
def rig(secret_arn: str, table: Table) -> Iterator[Rig]:
    clock = FakeTime(START)
    with FakeGraphServer() as graph:
        yield Rig(secret_arn, graph, clock, SeedingStore(table), SendLedger(table, clock=clock), table)


def text(body: str = "hi", key: str | None = None, to: str = USER) -> OutboundItem:
    request: dict[str, Any] = {"to": to, "type": "text", "text": {"body": body}}
    if key is not None:
        request["idempotency_key"] = key
    [item] = parse_send_request(request)
    return item


def template(key: str | None = None, to: str = USER) -> OutboundItem:
    request: dict[str, Any] = {
        "to": to,
        "type": "template",
        "template": {"name": "daily_reminder", "language": {"code": "en_US"}},
    }
    if key is not None:
        request["idempotency_key"] = key
    [item] = parse_send_request(request)
    return item


def only(report: SendReport) -> SendResult:
    [result] = report.response.results
    return result


# ---------------------------------------------------------------------- Meta's errors and retries
def test_throughput_error_is_retried_after_a_jittered_backoff(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script(graph_error(130429, "Rate limit hit"))
    result = only(rig.send(text()))
    assert result.status == "accepted"
    assert result.message_id == "wamid.FAKE000001"
    assert len(rig.requests) == 2
    [delay] = rig.clock.sleeps
    assert 0.0 <= delay <= 0.5  # full jitter below the first ceiling, base 0.5 s


@pytest.mark.parametrize("code", [1, 2, 4, 80007, 131000, 131016, 131057])
def test_every_backoff_code_is_retried(rig: Rig, code: int) -> None:
    rig.inbound(hours_ago=1)
    rig.script(graph_error(code, http_status=500 if code in (1, 2) else 400))
    assert only(rig.send(text())).status == "accepted"
    assert len(rig.requests) == 2


def test_connection_refused_is_retried_and_leaves_the_key_free(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    with refusing_port() as port:
        nobody = rig.sender(graph_url=f"http://127.0.0.1:{port}", retry=RetryPolicy(max_attempts=3))
        refused = only(rig.send(text(key="k-refused"), sender=nobody))
    assert refused.error is not None
    assert (refused.error.title, refused.error.retryable) == ("GraphUnreachableError", True)
    assert refused.error.hint is not None
    assert refused.error.hint.startswith("Not accepted after 3 attempt(s)")
    assert len(rig.clock.sleeps) == 2
    # Nothing reached Meta, so the key is free: the next attempt sends.
    assert only(rig.send(text(key="k-refused"))).status == "accepted"


BACKOFF_ONLY = [pytest.approx(0.0, abs=0.5)]


@pytest.mark.parametrize(
    ("body", "retry_after", "sleeps"),
    [
        (b"", None, BACKOFF_ONLY),
        ({"message": "Too Many Requests"}, None, BACKOFF_ONLY),
        ({"message": "Too Many Requests"}, "7", [7.0]),
        (b"<html>slow down</html>", "Fri, 15 Jan 2027 08:00:07 GMT", [7.0]),  # START + 7 s
        (b"", "soon", BACKOFF_ONLY),
        (b"", "-5", BACKOFF_ONLY),
    ],
)
def test_http_429_without_a_graph_error_is_retried_after_its_retry_after(
    rig: Rig, body: bytes | dict[str, Any], retry_after: str | None, sleeps: list[float]
) -> None:
    rig.inbound(hours_ago=1)
    headers = {"Retry-After": retry_after} if retry_after else {}
    rig.script(Reply(429, body, headers))
    assert only(rig.send(text())).status == "accepted"
    assert len(rig.requests) == 2
    assert rig.clock.sleeps == sleeps


def test_retry_after_beyond_the_deadline_is_handed_back_not_slept(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script(Reply(429, graph_error(130429, "Rate limit hit")[1], {"Retry-After": "120"}))
    report = rig.send(text(), seconds=60)
    result = only(report)
    assert result.error is not None
    error = result.error
    assert (error.code, error.retryable, error.retry_after_seconds) == (130429, True, 120)
    assert rig.clock.sleeps == []
    assert len(rig.requests) == 1
    assert report.retry_soon


def test_success_without_a_message_id_is_not_resent_under_its_key(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script((200, {"messaging_product": "whatsapp"}))
    first = only(rig.send(text(key="k-odd")))
    assert first.error is not None
    assert (first.error.title, first.error.retryable) == ("Outcome unknown", False)
    assert only(rig.send(text(key="k-odd"))) == first
    assert len(rig.requests) == 1


def test_reengagement_error_from_meta_is_not_retried(rig: Rig) -> None:
    rig.inbound(hours_ago=1)  # the window looks open locally; Meta knows better
    rig.script(graph_error(131047, "Re-engagement message"))
    report = rig.send(text())
    result = only(report)
    assert result.status == "failed"
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == (131047, False)
    assert len(rig.requests) == 1
    assert rig.clock.sleeps == []
    assert not report.retry_soon


def test_retry_tomorrow_error_is_reported_retryable_with_a_hint_but_not_retried_now(rig: Rig) -> None:
    rig.script(
        graph_error(131049, "This message was not delivered to maintain healthy ecosystem engagement.")
    )
    report = rig.send(template())
    result = only(report)
    assert result.error is not None
    assert result.error.code == 131049
    assert result.error.retryable is True
    assert result.error.retry_after_seconds == 86_400
    assert result.error.hint is not None
    assert "24 hours" in result.error.hint
    assert len(rig.requests) == 1
    assert not report.retry_soon  # not worth a redelivery minutes from now


def test_expired_token_is_not_sent_again_while_the_secret_holds_it(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.graph.fake.rejected_tokens.add(LOCAL_ACCESS_TOKEN)
    sender = rig.sender()
    first = only(rig.send(text(), sender=sender))
    assert first.error is not None
    assert (first.error.code, first.error.title) == (190, "Access token rejected")
    assert first.error.retryable is True
    assert first.error.message == "Error validating access token: Session has expired"
    # The secret was read again and holds the same token: nothing more goes to Meta with it.
    assert len(rig.requests) == 1
    later = only(rig.send(text("again"), sender=sender))
    assert later.error is not None
    assert (later.error.code, later.error.retryable) == (190, True)
    assert len(rig.requests) == 1
    # Once per recheck interval one request tries the refused token again, in case Meta relents.
    rig.clock.now += 30
    rig.graph.fake.rejected_tokens.clear()
    assert only(rig.send(text("and again"), sender=sender)).status == "accepted"
    assert only(rig.send(text("back to normal"), sender=sender)).status == "accepted"
    assert len(rig.requests) == 3


def test_a_replaced_token_is_picked_up_within_the_recheck_interval(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.graph.fake.rejected_tokens.add(LOCAL_ACCESS_TOKEN)
    sender = rig.sender()
    assert only(rig.send(text(), sender=sender)).status == "failed"
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=rig.secret_arn, SecretString=json.dumps({**SECRET, "access_token": "fresh-token"})
    )
    rig.clock.now += 10  # the secret was just read: not again so soon
    assert only(rig.send(text(), sender=sender)).status == "failed"
    rig.clock.now += 20
    assert only(rig.send(text(), sender=sender)).status == "accepted"
    assert [request.headers["authorization"] for request in rig.graph.fake.requests] == [
        f"Bearer {LOCAL_ACCESS_TOKEN}",
        "Bearer fresh-token",
    ]


def test_pair_limit_waits_four_to_the_power_of_the_attempt(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script(*[graph_error(131056, "Pair rate limit hit")] * 3)
    result = only(rig.send(text(), seconds=60))
    assert result.status == "accepted"
    assert rig.clock.sleeps == [1.0, 4.0, 16.0]
    assert len(rig.requests) == 4


def test_pair_limit_stops_when_the_next_wait_would_pass_the_deadline(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script(*[graph_error(131056)] * 10)
    report = rig.send(text(), seconds=40)
    result = only(report)
    # 1 + 4 + 16 s of waits fit in 40 s with a request's time after each; 64 more would not.
    assert rig.clock.sleeps == [1.0, 4.0, 16.0]
    assert result.error is not None
    assert (result.error.code, result.error.retryable, result.error.retry_after_seconds) == (131056, True, 64)
    assert report.retry_soon


def test_retries_stop_at_the_deadline_and_hand_back_a_retryable_failure(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script(*[graph_error(130429)] * 200)
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=8.0, max_attempts=1000, rng=random.Random(1))
    report = rig.send(text(), seconds=45, sender=rig.sender(retry=policy))
    result = only(report)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.code == 130429
    assert result.error.retryable is True
    assert result.error.hint is not None
    assert "attempt" in result.error.hint
    assert report.retry_soon
    attempts = len(rig.requests)
    assert attempts == len(rig.clock.sleeps) + 1 > 3
    # Never slept into the time the last request might need.
    assert rig.clock.now - START <= 45 - REQUEST_SECONDS


def test_no_request_is_started_without_time_to_finish_it(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    report = rig.send(text(), seconds=REQUEST_SECONDS - 1)
    result = only(report)
    assert rig.requests == []
    assert result.error is not None
    assert result.error.retryable is True
    assert report.retry_soon


def test_the_rate_limit_paces_a_batch(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    report = rig.send(*[text(f"m{i}") for i in range(5)], sender=rig.sender(rate=2))
    assert [result.status for result in report.response.results] == ["accepted"] * 5
    # One every half second: the fifth goes two seconds after the first.
    assert rig.clock.now - START == pytest.approx(2.0)


class SlowSecrets:
    """Secrets Manager taking ``seconds`` of the clock to answer."""

    def __init__(self, clock: FakeTime, seconds: float) -> None:
        self._client = boto3.client("secretsmanager", region_name=REGION)
        self._clock = clock
        self._seconds = seconds
        self.reads = 0

    def get_secret_value(self, **request: Any) -> Any:
        self.reads += 1
        self._clock.now += self._seconds
        return self._client.get_secret_value(**request)


def test_reading_the_secret_never_pushes_a_request_past_its_turn(rig: Rig) -> None:
    # Turns half a second apart; the secret takes 0.3 s to read, and is read again every 1.2 s. A
    # request that read it after its turn would go out late, closer to the next one than the pace.
    rig.inbound(hours_ago=1)
    secrets = SlowSecrets(rig.clock, 0.3)
    sent_at: list[float] = []
    rig.graph.fake.on_request = lambda body: sent_at.append(rig.clock.now)
    sender = rig.sender(rate=2, secrets=secrets, secret_max_age=1.2)
    report = rig.send(*[text(f"m{i}") for i in range(8)], sender=sender)
    assert [result.status for result in report.response.results] == ["accepted"] * 8
    assert secrets.reads > 1
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
    assert min(gaps) == pytest.approx(0.5)
    assert busiest_second(sent_at) == 2


class UnavailableLine:
    def acquire(self) -> float:
        raise TableUnavailableError("UpdateItem on the table failed (ThrottlingException)")


def test_without_a_turn_nothing_is_sent_and_the_failure_is_retryable(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    report = rig.send(text(key="k-line"), sender=rig.sender(pacer=UnavailableLine()), retry_by=RetryBy.QUEUE)
    [result] = report.response.results
    assert rig.requests == []
    assert result.error is not None
    assert result.error.retryable is True
    assert "ThrottlingException" in str(result.error.message)
    assert report.retry_soon
    # The key is free again: the redelivery sends it.
    assert only(rig.send(text(key="k-line"))).status == "accepted"


def test_a_burst_to_one_contact_waits_its_turns_instead_of_meeting_131056(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    sent_at: list[float] = []
    rig.graph.fake.on_request = lambda body: sent_at.append(rig.clock.now)
    report = rig.send(*[text(f"m{i}") for i in range(50)], seconds=60.0)
    assert [result.status for result in report.response.results] == ["accepted"] * 50
    # Meta's bucket for the pair (45 at once, then one per 6 s) admits every request as it comes.
    meta = TokenBucketLimit(45, 6.0)
    for moment in sent_at:
        assert meta.allows(USER, moment)
        meta.record(USER, moment)
    assert sent_at[-1] - START == pytest.approx(5 * 6.25)


def test_a_turn_past_the_deadline_is_refused_before_sending_and_retryable(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    # 20 s left: a request must start within 20 - 13.05 s, so the 45 of the burst and the one
    # 6.25 s later go; the rest would come too late.
    report = rig.send(*[text(f"m{i}") for i in range(48)], seconds=20.0, retry_by=RetryBy.QUEUE)
    statuses = [result.status for result in report.response.results]
    assert statuses == ["accepted"] * 46 + ["failed"] * 2
    assert len(rig.requests) == 46
    for result in report.response.results[46:]:
        assert result.error is not None
        assert (result.error.code, result.error.retryable) == (131056, True)
        assert str(result.error.message).startswith("Refused before sending")
        assert result.error.retry_after_seconds is not None
        assert 1 <= result.error.retry_after_seconds <= 12
    assert report.retry_soon


# ---------------------------------------------------------------------- 24-hour window
def test_free_form_without_any_inbound_is_refused_before_sending(rig: Rig) -> None:
    result = only(rig.send(text()))
    assert rig.requests == []
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.code == 131047
    assert result.error.title == "Re-engagement message"
    assert result.error.message is not None
    assert result.error.message.startswith("Refused before sending")
    assert result.error.retryable is False
    [failed] = rig.failed_sends()
    assert failed["wa_id"] == USER
    assert json.loads(failed["status_errors"])[0]["code"] == 131047


@pytest.mark.parametrize(("hours_ago", "sent"), [(25, False), (24.01, False), (23.9, True), (0.1, True)])
def test_free_form_follows_the_last_inbound_message(rig: Rig, hours_ago: float, sent: bool) -> None:
    rig.inbound(hours_ago=hours_ago)
    assert (only(rig.send(text())).status == "accepted") is sent
    assert len(rig.requests) == int(sent)


def test_template_is_sent_outside_the_window(rig: Rig) -> None:
    assert only(rig.send(template())).status == "accepted"
    assert rig.requests[0]["type"] == "template"


def test_mark_as_read_needs_no_window(rig: Rig) -> None:
    [item] = parse_send_request({"status": "read", "message_id": "wamid.IN"})
    result = only(rig.send(item))
    assert (result.status, result.message_id) == ("read", "wamid.IN")


# ---------------------------------------------------------------------- opt-out
def test_template_to_an_opted_out_contact_is_refused(rig: Rig) -> None:
    rig.store.record_consent(USER, False, int(START) - 100, "wamid.STOP", "keyword:STOP")
    result = only(rig.send(template()))
    assert rig.requests == []
    assert result.error is not None
    assert result.error.title == "Contact opted out"
    assert result.error.retryable is False


def test_reply_inside_the_window_reaches_an_opted_out_contact(rig: Rig) -> None:
    rig.store.record_consent(USER, False, int(START) - 100, "wamid.STOP", "keyword:STOP")
    rig.inbound(hours_ago=0.01)
    assert only(rig.send(text())).status == "accepted"


def test_contact_who_opted_in_again_gets_templates(rig: Rig) -> None:
    rig.store.record_consent(USER, False, int(START) - 100, "wamid.STOP", "keyword:STOP")
    rig.store.record_consent(USER, True, int(START) - 50, "wamid.START", "keyword:START")
    assert only(rig.send(template())).status == "accepted"


def test_marketing_stopped_blocks_only_marketing_templates(rig: Rig) -> None:
    rig.store.record_marketing_stopped(USER, int(START) - 100, "wamid.OUT")
    refused = only(rig.send(template(), marketing=True))
    assert refused.error is not None
    assert refused.error.title == "Contact stopped marketing messages"
    assert rig.requests == []
    assert only(rig.send(template())).status == "accepted"


# ---------------------------------------------------------------------- idempotency
def test_same_key_twice_sends_once_and_answers_the_first_result(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    first = only(rig.send(text(key="order-1042-shipped")))
    again = only(rig.send(text(key="order-1042-shipped")))
    assert first.status == "accepted"
    assert again == first
    assert len(rig.requests) == 1
    message = rig.store.message(str(first.message_id))
    assert message is not None
    assert message["idempotency_key"] == "order-1042-shipped"


def test_key_reused_for_another_message_sends_nothing(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    only(rig.send(text("first", key="k-1")))
    other = only(rig.send(text("something else", key="k-1")))
    assert other.error is not None
    assert other.error.title == "Idempotency key reused"
    assert len(rig.requests) == 1


def test_concurrent_duplicate_does_not_send(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    first_request_arrived = threading.Event()
    release = threading.Event()

    def hold(body: dict[str, Any]) -> None:
        first_request_arrived.set()
        release.wait(10)

    rig.graph.fake.on_request = hold
    outcome: list[SendReport] = []
    first = threading.Thread(target=lambda: outcome.append(rig.send(text(key="dup"))))
    first.start()
    try:
        assert first_request_arrived.wait(10)
        duplicate = only(rig.send(text(key="dup")))
    finally:
        release.set()
        first.join(10)
    assert duplicate.status == "failed"
    assert duplicate.error is not None
    assert (duplicate.error.title, duplicate.error.retryable) == ("In progress", True)
    [report] = outcome
    assert only(report).status == "accepted"
    assert len(rig.requests) == 1
    # Asked again once the first is done, the duplicate gets its result.
    assert only(rig.send(text(key="dup"))) == only(report)


def test_retry_after_a_retryable_failure_sends_again(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script(graph_error(130429))
    once = RetryPolicy(max_attempts=1)
    failed = only(rig.send(text(key="k-2"), sender=rig.sender(retry=once)))
    assert failed.error is not None
    assert failed.error.retryable is True
    [record] = rig.failed_sends()
    assert (record["send_id"], record["idempotency_key"], record["error_code"]) == ("k-2", "k-2", 130429)

    sent = only(rig.send(text(key="k-2")))
    assert sent.status == "accepted"
    assert len(rig.requests) == 2
    assert rig.failed_sends() == []  # followed up: it went out in the end


def test_queue_mode_leaves_soon_retryable_failures_to_the_queue(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    rig.script(graph_error(130429), graph_error(131026, "Message undeliverable"))
    once = RetryPolicy(max_attempts=1)
    report = rig.send(
        text("a", key="q-1"), text("b", key="q-2"), sender=rig.sender(retry=once), retry_by=RetryBy.QUEUE
    )
    assert report.retry_soon
    assert [record["send_id"] for record in rig.failed_sends()] == ["q-2"]


def test_claim_left_by_an_invocation_that_died_is_never_resent(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    item = text(key="k-3")
    claim = rig.ledger.claim("k-3", request_fingerprint(item.to_graph_body()), lease_seconds=30)
    assert not isinstance(claim, Taken)
    rig.clock.now += 120  # the owner's invocation is long over, its outcome unknown
    result = only(rig.send(item))
    assert rig.requests == []
    assert result.error is not None
    assert (result.error.title, result.error.retryable) == ("Outcome unknown", False)
    # Settled by the first repeat: listed once for follow-up, and every repeat answers the same.
    [failed] = rig.failed_sends()
    assert (failed["send_id"], json.loads(failed["status_errors"])[0]["title"]) == ("k-3", "Outcome unknown")
    rig.clock.now += 60
    assert only(rig.send(item)) == result
    assert len(rig.failed_sends()) == 1


def test_expired_idempotency_record_frees_the_key(rig: Rig) -> None:
    rig.inbound(hours_ago=1)
    only(rig.send(text(key="k-4")))
    rig.clock.now += 8 * 86_400  # past the TTL; DynamoDB may not have deleted it yet
    rig.inbound(hours_ago=1)
    assert only(rig.send(text(key="k-4"))).message_id == "wamid.FAKE000002"


def test_failed_sends_are_listed_for_follow_up(rig: Rig) -> None:
    rig.script(graph_error(131026, "Message undeliverable"))
    only(rig.send(template()))
    [record] = rig.failed_sends()
    assert record["gsi2pk"] == f"FAILED#{time.strftime('%Y-%m-%d', time.gmtime(START))}"
    assert record["status"] == "failed"
    assert record["type"] == "template"
    assert json.loads(record["request"])["template"]["name"] == "daily_reminder"


def test_every_business_number_needs_its_own_pacers(rig: Rig) -> None:
    other = "109876543210987"
    pacer = SharedPacer(rig.table, LOCAL_PHONE_NUMBER_ID, 10_000, clock=rig.clock, sleep=rig.clock.sleep)
    pairs = PairPacer(rig.table, LOCAL_PHONE_NUMBER_ID, clock=rig.clock)

    def sender(**lines: Any) -> MessageSender:
        return MessageSender(
            GraphClient(graph_pool(), GraphEndpoint(rig.graph.url, "v24.0", LOCAL_PHONE_NUMBER_ID)),
            CredentialsCache(
                boto3.client("secretsmanager", region_name=REGION),
                rig.secret_arn,
                AccessToken.from_secret_string,
            ),
            rig.store,
            rig.ledger,
            numbers=(LOCAL_PHONE_NUMBER_ID, other),
            **lines,
        )

    with pytest.raises(ValueError, match=f"none for {other}"):
        sender(limiter=pacer, pairs=pairs)
    with pytest.raises(ValueError, match=f"none for {other}"):
        sender(limiter={LOCAL_PHONE_NUMBER_ID: pacer, other: pacer}, pairs={LOCAL_PHONE_NUMBER_ID: pairs})
    both = sender(limiter={LOCAL_PHONE_NUMBER_ID: pacer, other: pacer}, pairs=None)
    assert both.numbers == (LOCAL_PHONE_NUMBER_ID, other)
