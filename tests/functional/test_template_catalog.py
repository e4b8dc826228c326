"""The template catalog: synced from the Graph API simulator over HTTP, kept current by template
webhooks, and consulted before each template send (Meta's own codes, nothing sent).

The sender runs against the emulated table (moto) and the simulator on loopback, with a fake
clock for the catalog's cache and the sender's waits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from support.aws import REGION
from support.clock import FakeTime
from support.contacts import SeedingStore
from support.sender_events import refusing_port
from wacloud.core.credentials import AccessToken, CredentialsCache
from wacloud.meta.graph_client import GraphClient, GraphEndpoint, graph_pool
from wacloud.meta.outbound import SendResult, parse_send_request
from wacloud.meta.templates import TEMPLATE_STATUS_FIELD, template_change
from wacloud.sender.catalog import TemplateCatalog
from wacloud.sender.delivery import MessageSender
from wacloud.sender.retry import Deadline, RetryPolicy
from wacloud.sender.template_sync import TemplateSync
from wacloud.table.ledger import SendLedger
from wacloud.table.pacing import SharedPacer
from wacloud.table.templates import TemplateCatalogStore
from walocal.events import event_path
from walocal.provision import provision
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_PHONE_NUMBER_ID, LOCAL_WABA_ID
from walocal.simulator import GraphApiSimulator, SimulatorConfig, TemplateSpec
from walocal.simulator.config import default_templates
from walocal.template import Template

pytestmark = pytest.mark.xdist_group("template_catalog")

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

USER = "15551234567"
START = 1_800_000_000.0


@pytest.fixture(scope="module")
def secret_arn() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            env.setenv(name, value)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            secrets = boto3.client("secretsmanager", region_name=REGION)
            secret = json.dumps({"access_token": LOCAL_ACCESS_TOKEN})
            yield secrets.create_secret(Name="whatsapp", SecretString=secret)["ARN"]


@pytest.fixture
def table(secret_arn: str, template: Template) -> Iterator[Table]:
    only_the_table = Template({"Resources": {"MessagesTable": template.resources["MessagesTable"]}})
    stack = provision(only_the_table, boto3.Session(region_name=REGION))
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    yield table
    table.delete()


def templates_with(**extra: TemplateSpec) -> dict[str, Any]:
    return {**default_templates(), **{name: {"en_US": spec} for name, spec in extra.items()}}


@pytest.fixture
def simulator() -> Iterator[GraphApiSimulator]:
    config = SimulatorConfig(
        port=0,
        access_token=LOCAL_ACCESS_TOKEN,
        webhook_url="http://127.0.0.1:9/webhook",
        webhook_retries=0,
        waba_id=LOCAL_WABA_ID,
        templates=templates_with(
            promo_code=TemplateSpec(body_params=1, category="marketing"),
            quality_dropped=TemplateSpec(body_params=0, status="PAUSED"),
        ),
    )
    with GraphApiSimulator(config) as sim:
        yield sim


@dataclass
class Rig:
    secret_arn: str
    simulator: GraphApiSimulator
    table: Table
    clock: FakeTime

    def __post_init__(self) -> None:
        self.catalog_store = TemplateCatalogStore(self.table, clock=self.clock)
        self.catalog = TemplateCatalog(self.catalog_store, clock=self.clock)
        self.store = SeedingStore(self.table)
        self.sender = self.make_sender(self.simulator.url)

    def make_sender(self, url: str) -> MessageSender:
        return MessageSender(
            graph=self.graph(url),
            credentials=CredentialsCache(
                boto3.client("secretsmanager", region_name=REGION),
                self.secret_arn,
                AccessToken.from_secret_string,
                clock=self.clock,
            ),
            store=self.store,
            ledger=SendLedger(self.table, clock=self.clock),
            limiter=SharedPacer(
                self.table, LOCAL_PHONE_NUMBER_ID, 10_000, clock=self.clock, sleep=self.clock.sleep
            ),
            retry=RetryPolicy(rng=random.Random(5), max_attempts=1),
            catalog=self.catalog,
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def graph(self, url: str) -> GraphClient:
        return GraphClient(graph_pool(), GraphEndpoint(url, "v24.0", LOCAL_PHONE_NUMBER_ID), clock=self.clock)

    def sync(self, url: str | None = None, waba_id: str | None = LOCAL_WABA_ID) -> Any:
        sender = self.make_sender(url) if url else self.sender
        return TemplateSync(
            self.graph(url or self.simulator.url), self.catalog_store, waba_id, sender.access_token
        ).run()

    def send(self, request: dict[str, Any], **options: Any) -> SendResult:
        [result] = self.sender.send_all(
            parse_send_request(request), Deadline(60.0, self.clock), **options
        ).response.results
        return result

    def sent_to_meta(self) -> list[dict[str, Any]]:
        return list(self.simulator.snapshot()["messages"])

    def later(self, seconds: float = 61.0) -> None:
        self.clock.now += seconds


@pytest.fixture
def rig(secret_arn: str, simulator: GraphApiSimulator, table: Table) -> Rig:
    return Rig(secret_arn, simulator, table, FakeTime(START))


def template(
    name: str, body: list[str] | None = None, language: str = "en_US", **extra: Any
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "to": USER,
        "type": "template",
        "template": {"name": name, "language": {"code": language}},
    }
    if body:
        request["template"]["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": text} for text in body]}
        ]
    request["template"].update(extra)
    return request


def test_sync_reads_every_page_of_the_simulators_catalog(rig: Rig) -> None:
    many = {f"bulk_{n:03d}": TemplateSpec(body_params=n % 3) for n in range(130)}
    with GraphApiSimulator(
        SimulatorConfig(
            port=0, access_token=LOCAL_ACCESS_TOKEN, waba_id=LOCAL_WABA_ID, templates=templates_with(**many)
        )
    ) as big:
        summary = rig.sync(big.url)
    assert summary.synced
    assert summary.templates == 130 + len(default_templates())
    snapshot = rig.catalog_store.snapshot()
    bulk = snapshot.templates[("bulk_005", "en_US")]
    assert (bulk.status, bulk.category, bulk.body_params) == ("APPROVED", "UTILITY", 2)
    movie = snapshot.templates[("sample_movie_ticket_confirmation", "en_US")]
    assert (movie.header_format, movie.header_params, movie.body_params) == ("IMAGE", 1, 4)
    # A later sync replaces the catalog: templates gone from Meta leave it.
    assert rig.sync().synced
    assert ("bulk_005", "en_US") not in rig.catalog_store.snapshot().templates


def test_a_wrong_parameter_count_is_refused_with_132000_and_meta_receives_nothing(rig: Rig) -> None:
    assert rig.sync().synced
    result = rig.send(template("daily_reminder", ["Maria", "extra"]))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.code == 132000
    assert str(result.error.message).startswith("Refused before sending")
    assert not result.error.retryable
    assert rig.sent_to_meta() == []
    # The same template with its one parameter goes out.
    assert rig.send(template("daily_reminder", ["Maria"])).status == "accepted"
    assert len(rig.sent_to_meta()) == 1


def test_an_unknown_template_or_language_is_refused_with_132001(rig: Rig) -> None:
    assert rig.sync().synced
    unknown = rig.send(template("no_such_template"))
    assert unknown.error is not None
    assert unknown.error.code == 132001
    wrong_language = rig.send(template("hello_world", language="pt_BR"))
    assert wrong_language.error is not None
    assert wrong_language.error.code == 132001
    assert "en_US" in str(wrong_language.error.message)
    assert rig.sent_to_meta() == []


def test_a_paused_or_disabled_template_is_refused_with_meta_s_code(rig: Rig) -> None:
    assert rig.sync().synced
    paused = rig.send(template("quality_dropped"))
    assert paused.error is not None
    assert paused.error.code == 132015
    change = template_change(
        TEMPLATE_STATUS_FIELD,
        {"event": "DISABLED", "message_template_name": "hello_world", "message_template_language": "en_US"},
    )
    assert change is not None
    rig.store.apply_template_change(change, TEMPLATE_STATUS_FIELD, int(rig.clock.now))
    rig.later()
    disabled = rig.send(template("hello_world"))
    assert disabled.error is not None
    assert disabled.error.code == 132016
    assert rig.sent_to_meta() == []


def test_a_status_webhook_pausing_a_template_refuses_the_next_send_once_the_cache_expires(rig: Rig) -> None:
    assert rig.sync().synced
    assert rig.send(template("hello_world")).status == "accepted"
    payload = json.loads(event_path("webhooks/field_message_template_status_update.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(
        {"event": "PAUSED", "message_template_name": "hello_world", "message_template_language": "en_US"}
    )
    change = template_change(TEMPLATE_STATUS_FIELD, value)
    assert change is not None
    rig.store.apply_template_change(change, TEMPLATE_STATUS_FIELD, int(rig.clock.now))
    # Within the minute the instance's cached catalog holds: no extra read per send.
    assert rig.send(template("hello_world")).status == "accepted"
    rig.later()
    refused = rig.send(template("hello_world"))
    assert refused.error is not None
    assert refused.error.code == 132015
    assert len(rig.sent_to_meta()) == 2
    # A webhook older than the catalog's last change (a sync since) changes nothing.
    approved = template_change(
        TEMPLATE_STATUS_FIELD,
        {"event": "APPROVED", "message_template_name": "hello_world", "message_template_language": "en_US"},
    )
    assert approved is not None
    assert not rig.store.apply_template_change(approved, TEMPLATE_STATUS_FIELD, int(START) - 10)
    assert rig.catalog_store.snapshot().templates[("hello_world", "en_US")].status == "PAUSED"


def test_the_category_decides_the_marketing_rule(rig: Rig) -> None:
    assert rig.sync().synced
    rig.store.record_marketing_stopped(USER, int(START) - 60, "wamid.STOPPED")
    marketing = rig.send(template("promo_code", ["SAVE10"]))
    assert marketing.error is not None
    assert marketing.error.code == 131050
    # A utility template goes out even when the caller says marketing: the catalog knows better.
    assert rig.send(template("daily_reminder", ["Maria"]), marketing=True).status == "accepted"


def test_a_contact_who_resumes_marketing_messages_gets_marketing_templates_again(rig: Rig) -> None:
    assert rig.sync().synced
    # A 131050 failure first, then the contact's own stop in WhatsApp (user_preferences): refused.
    rig.store.record_marketing_stopped(USER, int(START) - 600, "wamid.STOPPED")
    rig.store.record_marketing_preference(USER, int(START) - 300, stopped=True)
    refused = rig.send(template("promo_code", ["SAVE10"]))
    assert refused.error is not None
    assert (refused.error.code, refused.status) == (131050, "failed")
    assert "user_preferences" in str(refused.error.message)
    assert rig.sent_to_meta() == []
    # The contact resumes them: the same send reaches Meta.
    rig.store.record_marketing_preference(USER, int(START) - 60, stopped=False)
    assert rig.send(template("promo_code", ["SAVE10"])).status == "accepted"
    assert [message["body"]["template"]["name"] for message in rig.sent_to_meta()] == ["promo_code"]


def test_a_131050_failure_after_a_resume_stops_marketing_templates_again(rig: Rig) -> None:
    assert rig.sync().synced
    rig.store.record_marketing_preference(USER, int(START) - 600, stopped=False)
    assert rig.send(template("promo_code", ["SAVE10"])).status == "accepted"
    # A later failure with 131050 is newer than the resume: it wins.
    rig.store.record_marketing_stopped(USER, int(START) - 30, "wamid.STOPPED")
    refused = rig.send(template("promo_code", ["SAVE10"]))
    assert refused.error is not None
    assert refused.error.code == 131050
    assert "(131050)" in str(refused.error.message)


def test_a_failed_sync_keeps_the_last_catalog_and_says_why(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    assert rig.sync().synced
    with refusing_port() as port:
        failed = rig.sync(f"http://127.0.0.1:{port}")
    assert not failed.synced
    assert failed.error is not None
    assert "last known catalog" in failed.as_dict()["message"]
    snapshot = rig.catalog_store.snapshot()
    assert snapshot.error == failed.error
    assert snapshot.synced_at is not None
    assert ("hello_world", "en_US") in snapshot.templates
    assert rig.send(template("no_such_template")).error is not None
    unknown_account = rig.sync(waba_id="999999999")
    assert not unknown_account.synced
    assert "100" in str(unknown_account.error)
    assert not rig.sync(waba_id=None).synced


def test_without_a_catalog_templates_are_sent_unchecked(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    result = rig.send(template("no_such_template"))
    # Meta (the simulator) judges it: its 132001, after a request.
    assert result.error is not None
    assert result.error.code == 132001
    assert not str(result.error.message).startswith("Refused before sending")
    assert "no template catalog" in caplog.text
    assert rig.send(template("hello_world")).status == "accepted"
