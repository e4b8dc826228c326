"""The Graph API simulator over real HTTP, with a webhook receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from wacloud.meta.preferences import preference_contact, read_preferences
from wacloud.meta.signature import is_valid_signature
from walocal.simulator import GraphApiSimulator, SimulatorConfig, TemplateSpec
from walocal.simulator.__main__ import main

TOKEN = "test-token"
SECRET = "test-app-secret"
PHONE_ID = "123456789012345"
USER = "16505551234"
FAST: dict[str, Any] = {
    "port": 0,
    "access_token": TOKEN,
    "app_secret": SECRET,
    "sent_delay": 0.02,
    "delivered_delay": 0.02,
    "read_delay": 0.02,
    "webhook_retry_delay": 0.02,
    "webhook_timeout": 2.0,
    "seed": 7,
}


@dataclass(frozen=True)
class Received:
    body: bytes
    signature: str | None

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook endpoint that records every POST and answers with queued status codes (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[int] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append(Received(body, self.headers.get("X-Hub-Signature-256")))
                    code = receiver.answers.popleft() if receiver.answers else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def statuses(self, wamid: str) -> list[dict[str, Any]]:
        """Status objects for ``wamid`` in arrival order."""
        found: list[dict[str, Any]] = []
        for item in self.snapshot():
            for entry in item.payload["entry"]:
                for change in entry["changes"]:
                    found.extend(s for s in change["value"].get("statuses", []) if s["id"] == wamid)
        return found

    def wait_for_statuses(self, wamid: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return wait_until(
            lambda: self.statuses(wamid) if len(self.statuses(wamid)) >= count else None, timeout
        )


class FakeClock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 5.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()
    # Every webhook the simulator sent must carry Meta's signature of its exact bytes.
    for item in rec.snapshot():
        assert is_valid_signature(item.body, item.signature, SECRET)


@pytest.fixture
def start(receiver: Receiver) -> Iterator[Callable[..., GraphApiSimulator]]:
    started: list[GraphApiSimulator] = []

    def _start(**overrides: Any) -> GraphApiSimulator:
        config = SimulatorConfig(**{**FAST, "webhook_url": receiver.url, **overrides})
        simulator = GraphApiSimulator(config).start()
        started.append(simulator)
        return simulator

    yield _start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def sim(start: Callable[..., GraphApiSimulator]) -> GraphApiSimulator:
    return start()


def send(
    simulator: GraphApiSimulator, body: Any, *, token: str = TOKEN, timeout: float = 5.0
) -> requests.Response:
    return requests.post(
        f"{simulator.url}/v24.0/{PHONE_ID}/messages",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def text(to: str = USER, body: str = "hello") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


def template(name: str = "hello_world", params: int = 0, to: str = USER, **extra: Any) -> dict[str, Any]:
    components = extra.pop("components", None)
    if components is None and params:
        components = [
            {"type": "body", "parameters": [{"type": "text", "text": f"p{i}"} for i in range(params)]}
        ]
    tpl: dict[str, Any] = {"name": name, "language": {"code": extra.pop("language", "en_US")}}
    if components is not None:
        tpl["components"] = components
    return {"messaging_product": "whatsapp", "to": to, "type": "template", "template": tpl, **extra}


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    error: dict[str, Any] = body["error"]
    assert set(error) >= {"message", "type", "code", "fbtrace_id"}
    return error


def play_user(simulator: GraphApiSimulator, **message: Any) -> dict[str, Any]:
    response = requests.post(f"{simulator.url}/_simulator/inbound", json=message, timeout=5)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def wamid_of(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    wamid: str = response.json()["messages"][0]["id"]
    return wamid


# --- authentication and validation -----------------------------------------------------------------


def test_wrong_or_missing_token_is_oauth_190(sim: GraphApiSimulator) -> None:
    wrong = send(sim, text(), token="nope")
    assert wrong.status_code == 401
    error = error_of(wrong)
    assert (error["code"], error["type"]) == (190, "OAuthException")

    missing = requests.post(f"{sim.url}/v24.0/{PHONE_ID}/messages", json=text(), timeout=5)
    assert missing.status_code == 401
    assert error_of(missing)["code"] == 190


def test_expired_token_carries_subcode_463(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(expired_tokens=frozenset({"old-token"}))
    error = error_of(send(sim, text(), token="old-token"))
    assert (error["code"], error["error_subcode"]) == (190, 463)


def test_unknown_phone_number_id_is_100(sim: GraphApiSimulator) -> None:
    response = requests.post(
        f"{sim.url}/v24.0/999/messages", json=text(), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 100
    assert "999" in error["message"]


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"to": USER, "text": {"body": "x"}}, "messaging_product"),
        ({"messaging_product": "sms", "to": USER, "text": {"body": "x"}}, "messaging_product"),
        ({"messaging_product": "whatsapp", "text": {"body": "x"}}, "to"),
        ({"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {}}, "text['body']"),
        ({"messaging_product": "whatsapp", "to": USER, "type": "text"}, "text"),
        ({"messaging_product": "whatsapp", "to": USER, "type": "carrier_pigeon"}, "type"),
        (
            {"messaging_product": "whatsapp", "to": USER, "type": "image", "image": {}},
            "image['id'] or image['link']",
        ),
        (
            {"messaging_product": "whatsapp", "to": USER, "type": "template", "template": {}},
            "template['name']",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": USER,
                "type": "template",
                "template": {"name": "hello_world"},
            },
            "template['language']",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": USER,
                "type": "interactive",
                "interactive": {"action": {}},
            },
            "interactive['type']",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": USER,
                "type": "interactive",
                "interactive": {"type": "button", "body": {"text": "Pick"}},
            },
            "interactive['action']",
        ),
        (
            {"messaging_product": "whatsapp", "to": USER, "type": "location", "location": {"latitude": 1}},
            "location['longitude']",
        ),
        ({"messaging_product": "whatsapp", "to": USER, "type": "contacts", "contacts": []}, "contacts"),
        (
            {"messaging_product": "whatsapp", "to": USER, "type": "reaction", "reaction": {"emoji": "x"}},
            "reaction['message_id']",
        ),
    ],
)
def test_bad_bodies_are_100_naming_the_parameter(sim: GraphApiSimulator, body: Any, parameter: str) -> None:
    response = send(sim, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 100
    assert parameter in error["message"]


def test_body_that_is_not_json_is_100(sim: GraphApiSimulator) -> None:
    response = requests.post(
        f"{sim.url}/v24.0/{PHONE_ID}/messages",
        data=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == 100


def test_unknown_template_or_language_is_132001(sim: GraphApiSimulator) -> None:
    unknown = error_of(send(sim, template("no_such_template")))
    assert unknown["code"] == 132001
    assert "no_such_template" in unknown["error_data"]["details"]
    assert error_of(send(sim, template("hello_world", language="fr")))["code"] == 132001


def test_template_parameter_count_mismatch_is_132000(sim: GraphApiSimulator) -> None:
    too_few = error_of(send(sim, template("daily_reminder", params=0)))
    assert too_few["code"] == 132000
    assert "body" in too_few["error_data"]["details"]
    assert error_of(send(sim, template("hello_world", params=2)))["code"] == 132000
    no_header = error_of(send(sim, template("sample_movie_ticket_confirmation", params=4)))
    assert no_header["code"] == 132000
    assert "header" in no_header["error_data"]["details"]


# --- success and status webhooks -----------------------------------------------------------------

MOVIE_TICKET = [
    {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": "https://example.com/poster.jpg"}}],
    },
    {
        "type": "body",
        "parameters": [
            {"type": "text", "text": "Dune"},
            {"type": "date_time", "date_time": {"fallback_value": "March 1, 2026"}},
            {"type": "text", "text": "Cinema 4"},
            {"type": "text", "text": "H7"},
        ],
    },
]


def test_success_answer_has_meta_shape(sim: GraphApiSimulator) -> None:
    response = send(
        sim, template("sample_movie_ticket_confirmation", to="+1 650-555-1234", components=MOVIE_TICKET)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+1 650-555-1234", "wa_id": USER}]
    [message] = body["messages"]
    assert message["message_status"] == "accepted"
    assert message["id"].startswith("wamid.")
    assert wamid_of(send(sim, template("daily_reminder", params=1))) != message["id"]


def test_template_produces_signed_sent_delivered_read(sim: GraphApiSimulator, receiver: Receiver) -> None:
    wamid = wamid_of(send(sim, template("daily_reminder", params=1, biz_opaque_callback_data="order-7")))
    sent, delivered, read = receiver.wait_for_statuses(wamid, 3)
    assert [sent["status"], delivered["status"], read["status"]] == ["sent", "delivered", "read"]

    for item in receiver.snapshot():
        assert is_valid_signature(item.body, item.signature, SECRET)
        payload = item.payload
        assert payload["object"] == "whatsapp_business_account"
        [entry] = payload["entry"]
        assert entry["id"] == sim.config.waba_id
        [change] = entry["changes"]
        assert change["field"] == "messages"
        assert change["value"]["messaging_product"] == "whatsapp"
        assert change["value"]["metadata"] == {
            "display_phone_number": "15550001234",
            "phone_number_id": PHONE_ID,
        }

    for status in (sent, delivered, read):
        assert status["recipient_id"] == USER
        assert status["timestamp"].isdigit()
        assert status["biz_opaque_callback_data"] == "order-7"
    assert sent["conversation"]["expiration_timestamp"].isdigit()
    assert sent["conversation"]["origin"] == {"type": "utility"}
    assert delivered["conversation"]["id"] == sent["conversation"]["id"]
    assert "expiration_timestamp" not in delivered["conversation"]
    assert sent["pricing"] == {
        "billable": True,
        "pricing_model": "PMP",
        "category": "utility",
        "type": "regular",
    }
    assert delivered["pricing"] == sent["pricing"]
    assert "pricing" not in read


def test_without_auto_read_statuses_stop_at_delivered(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(auto_read=False, pricing_model="CBP")
    wamid = wamid_of(send(sim, template()))
    statuses = wait_until(lambda: s if len(s := sim.snapshot()["messages"][0]["statuses"]) >= 2 else None)
    assert [s["status"] for s in statuses] == ["sent", "delivered"]
    assert statuses[0]["pricing"] == {"billable": True, "pricing_model": "CBP", "category": "utility"}
    time.sleep(0.1)
    assert len(sim.snapshot()["messages"][0]["statuses"]) == 2
    assert sim.snapshot()["messages"][0]["wamid"] == wamid


def test_free_form_outside_the_window_fails_131047(sim: GraphApiSimulator, receiver: Receiver) -> None:
    wamid = wamid_of(send(sim, text()))
    [failed] = receiver.wait_for_statuses(wamid, 1)
    assert failed["status"] == "failed"
    [error] = failed["errors"]
    assert error["code"] == 131047
    assert error["title"] == "Re-engagement message"
    assert error["message"]
    assert "24 hours" in error["error_data"]["details"]
    assert "conversation" not in failed
    time.sleep(0.1)
    assert len(receiver.statuses(wamid)) == 1


def test_play_user_sends_signed_inbound_and_opens_the_window(
    sim: GraphApiSimulator, receiver: Receiver
) -> None:
    answer = play_user(sim, **{"from": USER, "name": "Kerry Fisher", "type": "text", "text": {"body": "hi"}})
    assert answer["webhook_status"] == 200
    assert answer["delivered"] is True
    [inbound] = receiver.snapshot()
    value = inbound.payload["entry"][0]["changes"][0]["value"]
    assert value["contacts"] == [{"profile": {"name": "Kerry Fisher"}, "wa_id": USER}]
    [message] = value["messages"]
    assert message["id"] == answer["wamid"]
    assert message["from"] == USER
    assert message["timestamp"].isdigit()
    assert (message["type"], message["text"]) == ("text", {"body": "hi"})

    wamid = wamid_of(send(sim, text(body="Thanks for writing")))
    statuses = receiver.wait_for_statuses(wamid, 3)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert statuses[0]["conversation"]["origin"] == {"type": "service"}
    assert statuses[0]["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }


def test_play_user_passes_any_message_type_through(sim: GraphApiSimulator, receiver: Receiver) -> None:
    reply = {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}
    play_user(
        sim, **{"from": USER, "type": "interactive", "interactive": reply, "context": {"id": "wamid.X"}}
    )
    message = receiver.snapshot()[0].payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["interactive"] == reply
    assert message["context"] == {"id": "wamid.X"}
    bad = requests.post(f"{sim.url}/_simulator/inbound", json={"text": {"body": "no sender"}}, timeout=5)
    assert bad.status_code == 400


def test_window_closes_after_24_hours(start: Callable[..., GraphApiSimulator], receiver: Receiver) -> None:
    clock = FakeClock()
    sim = start(clock=clock)
    play_user(sim, **{"from": USER, "text": {"body": "hi"}})
    clock.advance(24 * 3600 + 1)
    wamid = wamid_of(send(sim, text()))
    [failed] = receiver.wait_for_statuses(wamid, 1)
    assert failed["errors"][0]["code"] == 131047


def test_undeliverable_numbers_fail_131026(
    start: Callable[..., GraphApiSimulator], receiver: Receiver
) -> None:
    sim = start(undeliverable_numbers=frozenset({"447700900123"}))
    for number in ("16505550000", "447700900123"):
        wamid = wamid_of(send(sim, template(to=number)))
        [failed] = receiver.wait_for_statuses(wamid, 1)
        assert failed["status"] == "failed"
        assert failed["recipient_id"] == number
        assert failed["errors"][0]["code"] == 131026


# --- limits and faults ---------------------------------------------------------------------------


def test_rate_limit_allows_80_per_second_then_130429(start: Callable[..., GraphApiSimulator]) -> None:
    clock = FakeClock()
    sim = start(clock=clock, sent_delay=60.0)
    answers = [send(sim, template(to=f"1650555{i:04d}")) for i in range(81)]
    assert [a.status_code for a in answers[:80]] == [200] * 80
    assert answers[80].status_code == 400
    assert error_of(answers[80])["code"] == 130429
    clock.advance(1.0)
    assert send(sim, template(to="16505559999")).status_code == 200


def test_rate_limit_holds_under_concurrent_sends(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(sent_delay=60.0, rate_limit_http_status=429)
    began = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: send(sim, template(to=f"1650556{i:04d}")), range(81)))
    elapsed = time.monotonic() - began
    accepted = sorted(m["time"] for m in sim.snapshot()["messages"])
    assert len(accepted) == sum(a.status_code == 200 for a in answers)
    for index, first in enumerate(accepted):
        assert sum(1 for t in accepted[index:] if t < first + 1.0) <= 80
    rejected = [a for a in answers if a.status_code != 200]
    if elapsed < 1.0:  # all 81 fell in one window, so one must have been refused
        assert rejected
    assert all(a.status_code == 429 and error_of(a)["code"] == 130429 for a in rejected)


def test_pair_limit_is_131056(start: Callable[..., GraphApiSimulator]) -> None:
    clock = FakeClock()
    sim = start(clock=clock, pair_burst=3, pair_interval=6.0, sent_delay=60.0)
    assert [send(sim, template()).status_code for _ in range(3)] == [200, 200, 200]
    over = send(sim, template())
    assert over.status_code == 400
    assert error_of(over)["code"] == 131056
    assert send(sim, template(to="16505554321")).status_code == 200
    clock.advance(6.0)
    assert send(sim, template()).status_code == 200
    assert error_of(send(sim, template()))["code"] == 131056


def test_default_pair_burst_is_45(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(clock=FakeClock(), sent_delay=60.0)
    codes = [send(sim, template()).status_code for _ in range(46)]
    assert codes == [200] * 45 + [400]


def test_injected_server_errors(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(error_probability=1.0)
    response = send(sim, template())
    assert response.status_code == 500
    assert error_of(response)["code"] in (1, 2)
    assert sim.snapshot()["messages"] == []


def test_injected_hang_outlasts_the_client_and_ends_on_stop(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(timeout_probability=1.0, hang_seconds=30.0)
    with pytest.raises(requests.Timeout):
        send(sim, template(), timeout=0.2)
    began = time.monotonic()
    sim.stop()
    assert time.monotonic() - began < 2.0


def test_latency_is_added_to_each_request(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(latency=0.2)
    began = time.monotonic()
    assert send(sim, template()).status_code == 200
    assert time.monotonic() - began >= 0.2


def test_duplicated_statuses_arrive_twice(
    start: Callable[..., GraphApiSimulator], receiver: Receiver
) -> None:
    sim = start(duplicate_probability=1.0)
    wamid = wamid_of(send(sim, template()))
    statuses = receiver.wait_for_statuses(wamid, 6)
    assert [s["status"] for s in statuses] == ["sent", "sent", "delivered", "delivered", "read", "read"]
    assert statuses[0] == statuses[1]


def test_reordered_statuses_arrive_out_of_order(
    start: Callable[..., GraphApiSimulator], receiver: Receiver
) -> None:
    sim = start(reorder_probability=1.0)
    wamid = wamid_of(send(sim, template()))
    order = [s["status"] for s in receiver.wait_for_statuses(wamid, 3)]
    assert order != ["sent", "delivered", "read"]
    assert sorted(order) == ["delivered", "read", "sent"]


def test_webhook_answering_non_200_is_retried(
    start: Callable[..., GraphApiSimulator], receiver: Receiver
) -> None:
    receiver.answers.extend([500, 503])
    sim = start(auto_read=False)
    wamid = wamid_of(send(sim, template()))
    statuses = receiver.wait_for_statuses(wamid, 4)
    assert [s["status"] for s in statuses] == ["sent", "sent", "sent", "delivered"]
    recorded = wait_until(lambda: s if len(s := sim.snapshot()["messages"][0]["statuses"]) == 2 else None)
    assert (recorded[0]["attempts"], recorded[0]["webhook_status"]) == (3, 200)


def test_unreachable_webhook_is_logged_not_fatal(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(webhook_url="http://127.0.0.1:9/webhook", webhook_retries=1, webhook_timeout=0.5)
    answer = play_user(sim, **{"from": USER, "text": {"body": "hi"}})
    assert (answer["webhook_status"], answer["delivered"]) == (None, False)
    assert send(sim, template()).status_code == 200
    recorded = wait_until(lambda: sim.snapshot()["messages"][0]["statuses"] or None)
    assert recorded[0]["webhook_status"] is None
    assert recorded[0]["attempts"] == 2


# --- controls, lifecycle, configuration ----------------------------------------------------------


def test_mark_as_read(sim: GraphApiSimulator) -> None:
    inbound = play_user(sim, **{"from": USER, "text": {"body": "hi"}})
    body = {"messaging_product": "whatsapp", "status": "read", "message_id": inbound["wamid"]}
    response = send(sim, body)
    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert sim.snapshot()["read_receipts"][0]["message_id"] == inbound["wamid"]
    missing = send(sim, {"messaging_product": "whatsapp", "status": "read"})
    assert "message_id" in error_of(missing)["message"]


def test_messages_listing_and_reset(sim: GraphApiSimulator) -> None:
    assert requests.get(f"{sim.url}/_simulator/health", timeout=5).json()["status"] == "ok"
    wamid = wamid_of(send(sim, template("daily_reminder", params=1)))
    send(sim, template(to="16505554321"))

    def listed() -> dict[str, Any] | None:
        listing: dict[str, Any] = requests.get(f"{sim.url}/_simulator/messages", timeout=5).json()
        first = listing["messages"][0]
        return listing if len(first["statuses"]) == 3 else None

    listing = wait_until(listed)
    first = listing["messages"][0]
    assert (first["wamid"], first["to"], first["type"]) == (wamid, USER, "template")
    assert first["body"]["template"]["name"] == "daily_reminder"
    assert isinstance(first["time"], float)
    assert [s["status"] for s in first["statuses"]] == ["sent", "delivered", "read"]
    assert all(s["webhook_status"] == 200 for s in first["statuses"])

    only = requests.get(f"{sim.url}/_simulator/messages", params={"to": "16505554321"}, timeout=5).json()
    assert [m["to"] for m in only["messages"]] == ["16505554321"]

    assert requests.delete(f"{sim.url}/_simulator/messages", timeout=5).status_code == 200
    assert requests.get(f"{sim.url}/_simulator/messages", timeout=5).json()["messages"] == []


def test_stop_ends_every_thread_and_drops_pending_webhooks(receiver: Receiver) -> None:
    config = SimulatorConfig(**{**FAST, "webhook_url": receiver.url, "sent_delay": 30.0})
    with GraphApiSimulator(config) as sim:
        assert send(sim, template()).status_code == 200
    assert not [t for t in threading.enumerate() if t.name.startswith("graph-simulator")]
    assert receiver.snapshot() == []
    with pytest.raises(RuntimeError):
        sim.start()


def test_config_from_env() -> None:
    config = SimulatorConfig.from_env(
        {
            "SIMULATOR_PORT": "3999",
            "SIMULATOR_ACCESS_TOKEN": "t",
            "SIMULATOR_AUTO_READ": "false",
            "SIMULATOR_UNDELIVERABLE_NUMBERS": "111, 222",
            "SIMULATOR_TEMPLATES": json.dumps(
                {"promo": {"es": {"body_params": 2, "category": "marketing"}}, "ping": {"en": 0}}
            ),
            "SIMULATOR_SEED": "3",
            "SIMULATOR_PRICING_MODEL": "cbp",
        },
        webhook_url="http://127.0.0.1:1/hook",
    )
    assert (config.port, config.access_token, config.auto_read, config.seed) == (3999, "t", False, 3)
    assert config.undeliverable_numbers == frozenset({"111", "222"})
    assert config.template("promo", "es") == TemplateSpec(body_params=2, category="marketing")
    assert config.template("ping", "en") == TemplateSpec()
    assert config.pricing_model == "CBP"
    assert config.webhook_url == "http://127.0.0.1:1/hook"
    assert SimulatorConfig.from_env({}).port == 3002
    with pytest.raises(ValueError, match="SIMULATOR_AUTO_READ"):
        SimulatorConfig.from_env({"SIMULATOR_AUTO_READ": "maybe"})


def test_cli_plays_a_user(
    sim: GraphApiSimulator, receiver: Receiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inbound", "--url", sim.url, "--from", USER, "--name", "Kerry", "--text", "hi"]) == 0
    assert json.loads(capsys.readouterr().out)["webhook_status"] == 200

    image = tmp_path / "image.json"
    image.write_text(json.dumps({"type": "image", "image": {"id": "1234", "mime_type": "image/jpeg"}}))
    assert main(["inbound", "--url", sim.url, "--from", USER, "--json", str(image)]) == 0
    messages = [r.payload["entry"][0]["changes"][0]["value"]["messages"][0] for r in receiver.snapshot()]
    assert [m["type"] for m in messages] == ["text", "image"]
    assert messages[1]["image"]["id"] == "1234"


# ---------------------------------------------------------------- chaos changed at run time
TEXT_TO_USER = {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": "hi"}}


def chaos(simulator: GraphApiSimulator, **changes: Any) -> requests.Response:
    return requests.put(f"{simulator.url}/_simulator/chaos", json=changes, timeout=5)


def test_chaos_walks_sends_through_an_outage_and_back(sim: GraphApiSimulator) -> None:
    assert send(sim, TEXT_TO_USER).status_code == 200
    assert chaos(sim, error_probability=1).status_code == 200
    failed = send(sim, TEXT_TO_USER)
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] in (1, 2)
    chaos(sim, error_probability=0, expired_tokens=[TOKEN])
    expired = send(sim, TEXT_TO_USER)
    assert (expired.status_code, expired.json()["error"]["code"]) == (401, 190)
    current = requests.get(f"{sim.url}/_simulator/chaos", timeout=5).json()
    assert current["expired_tokens"] == 1  # how many, never which
    assert TOKEN not in json.dumps(current)
    chaos(sim, expired_tokens=[])
    assert send(sim, TEXT_TO_USER).status_code == 200


def test_chaos_hang_accepts_the_message_after_the_client_gave_up(sim: GraphApiSimulator) -> None:
    chaos(sim, timeout_probability=1, hang_seconds=0.6)
    with pytest.raises(requests.ReadTimeout):
        send(sim, TEXT_TO_USER, timeout=0.2)
    chaos(sim, timeout_probability=0)
    time.sleep(0.8)
    sent = requests.get(f"{sim.url}/_simulator/messages", timeout=5).json()
    assert len(sent["messages"]) == 1  # accepted although its answer never arrived


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"error_probability": 2}, "error_probability"),
        ({"hang_seconds": -1}, "hang_seconds"),
        ({"expired_tokens": "t"}, "expired_tokens"),
        ({"webhook_retries": 1.5}, "webhook_retries"),
        ({"access_token": "x"}, "unknown fields: access_token"),
    ],
)
def test_chaos_refuses_bad_changes_whole(sim: GraphApiSimulator, changes: dict[str, Any], field: str) -> None:
    before = requests.get(f"{sim.url}/_simulator/chaos", timeout=5).json()
    answer = chaos(sim, **changes, latency=1.0)
    assert answer.status_code == 400
    assert field in answer.json()["error"]["message"]
    assert requests.get(f"{sim.url}/_simulator/chaos", timeout=5).json() == before


# ---------------------------------------------------------------- arrivals, for throughput checks
def test_arrivals_list_each_send_at_its_arrival_per_number(start: Callable[..., GraphApiSimulator]) -> None:
    sim = start(latency=0.3)
    before = time.time()
    assert send(sim, template()).status_code == 200
    assert send(sim, template()).status_code == 200
    answer = requests.get(f"{sim.url}/_simulator/arrivals", timeout=5).json()
    first, second = answer["arrivals"][PHONE_ID]
    # Arrival is when the request came, before the answer's latency.
    assert before <= first < before + 0.3 < second
    assert answer["max_per_second"] == {PHONE_ID: 2}  # 0.3 s apart: within one second
    requests.delete(f"{sim.url}/_simulator/messages", timeout=5)
    assert requests.get(f"{sim.url}/_simulator/arrivals", timeout=5).json() == {
        "arrivals": {},
        "max_per_second": {},
    }


def test_arrivals_count_the_busiest_second(sim: GraphApiSimulator) -> None:
    for _ in range(5):
        assert send(sim, template()).status_code == 200
    answer = requests.get(f"{sim.url}/_simulator/arrivals", timeout=5).json()
    assert len(answer["arrivals"][PHONE_ID]) == 5
    assert answer["max_per_second"][PHONE_ID] == 5
    refused = requests.post(f"{sim.url}/_simulator/arrivals", timeout=5)
    assert refused.status_code == 405


def test_latency_changed_at_run_time_delays_each_answer(sim: GraphApiSimulator) -> None:
    assert chaos(sim, latency=0.25).json()["latency"] == 0.25
    began = time.monotonic()
    assert send(sim, template()).status_code == 200
    assert time.monotonic() - began >= 0.25


# --- media ---------------------------------------------------------------------------------------


def upload(
    simulator: GraphApiSimulator, data: bytes, mime_type: str, *, token: str = TOKEN
) -> requests.Response:
    return requests.post(
        f"{simulator.url}/v24.0/{PHONE_ID}/media",
        data={"messaging_product": "whatsapp", "type": mime_type},
        files={"file": ("photo", data, mime_type)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def graph_get(simulator: GraphApiSimulator, path_or_url: str, *, token: str = TOKEN) -> requests.Response:
    url = path_or_url if path_or_url.startswith("http") else f"{simulator.url}/v24.0/{path_or_url}"
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_uploaded_media_is_described_downloaded_with_the_token_and_deleted(sim: GraphApiSimulator) -> None:
    data = b"\xff\xd8" + bytes(range(256)) * 40 + b"\xff\xd9"
    response = upload(sim, data, "image/jpeg")
    assert response.status_code == 200, response.text
    media_id = response.json()["id"]

    described = graph_get(sim, media_id).json()
    assert described["mime_type"] == "image/jpeg"
    assert described["file_size"] == len(data)
    assert described["sha256"] == hashlib.sha256(data).hexdigest()
    assert graph_get(sim, described["url"]).content == data
    # The download URL is Meta's CDN's: useless without the bearer token.
    assert requests.get(described["url"], timeout=5).status_code == 401

    listed = requests.get(f"{sim.url}/_simulator/media", timeout=5).json()["media"]
    assert [(m["id"], m["origin"], m["downloads"]) for m in listed] == [(media_id, "upload", 1)]

    assert requests.delete(
        f"{sim.url}/v24.0/{media_id}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ).json() == {"success": True}
    gone = graph_get(sim, media_id)
    assert gone.status_code == 400
    assert error_of(gone)["code"] == 100
    assert graph_get(sim, described["url"]).status_code == 404


@pytest.mark.parametrize(
    ("data", "mime_type", "problem"),
    [
        (b"x" * (5 * 1024 * 1024 + 1), "image/jpeg", "at most 5242880 bytes"),
        (b"GIF89a", "image/gif", "supported types"),
        (b"", "image/png", "empty"),
    ],
)
def test_an_upload_beyond_metas_limits_is_refused(
    sim: GraphApiSimulator, data: bytes, mime_type: str, problem: str
) -> None:
    response = upload(sim, data, mime_type)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 131053
    assert problem in error["error_data"]["details"]
    assert requests.get(f"{sim.url}/_simulator/media", timeout=5).json()["media"] == []


def test_a_download_url_expires(start: Callable[..., GraphApiSimulator]) -> None:
    clock = FakeClock()
    sim = start(clock=clock, media_url_ttl=300.0)
    media_id = upload(sim, b"%PDF-1.4 hello", "application/pdf").json()["id"]
    url = graph_get(sim, media_id).json()["url"]
    clock.advance(301)
    expired = graph_get(sim, url)
    assert expired.status_code == 404
    assert "expired" in error_of(expired)["error_data"]["details"]
    assert graph_get(sim, graph_get(sim, media_id).json()["url"]).content == b"%PDF-1.4 hello"


@pytest.mark.parametrize("kind", ["image", "audio", "document", "video", "sticker"])
def test_play_user_sends_media_that_can_be_downloaded(
    sim: GraphApiSimulator, receiver: Receiver, kind: str
) -> None:
    play_user(sim, **{"from": USER, "type": kind, kind: {"caption": "look"} if kind == "image" else {}})
    [inbound] = receiver.snapshot()
    media = inbound.payload["entry"][0]["changes"][0]["value"]["messages"][0][kind]
    described = graph_get(sim, media["id"]).json()
    data = graph_get(sim, described["url"]).content
    # Webhooks carry the sha256 in base64, as Meta's do; the media's own description in hex.
    assert media["sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert described["sha256"] == hashlib.sha256(data).hexdigest()
    assert media["mime_type"] == described["mime_type"]
    if kind == "audio":
        assert media["voice"] is True
        assert media["mime_type"] == "audio/ogg; codecs=opus"
    if kind == "document":
        assert media["filename"] == "invoice.pdf"
        assert data.startswith(b"%PDF")


def test_play_user_media_faults(sim: GraphApiSimulator, receiver: Receiver) -> None:
    for fault in ("expired_url", "wrong_sha256", "gone"):
        play_user(sim, **{"from": USER, "type": "image", "image": {}, "media": {"fault": fault}})
    ids = [
        r.payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
        for r in receiver.snapshot()
    ]
    expired, corrupt, gone = ids
    first = graph_get(sim, expired).json()["url"]
    assert graph_get(sim, first).status_code == 404
    assert graph_get(sim, graph_get(sim, expired).json()["url"]).status_code == 200
    described = graph_get(sim, corrupt).json()
    assert hashlib.sha256(graph_get(sim, described["url"]).content).hexdigest() != described["sha256"]
    assert error_of(graph_get(sim, gone))["code"] == 100


def test_the_command_line_plays_a_contact_sending_a_file(
    sim: GraphApiSimulator, receiver: Receiver, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"pixels" * 100)
    assert main(["inbound", "--url", sim.url, "--from", USER, "--image", "--media-file", str(photo)]) == 0
    assert main(["inbound", "--url", sim.url, "--from", USER, "--voice"]) == 0
    image, voice = (r.payload["entry"][0]["changes"][0]["value"]["messages"][0] for r in receiver.snapshot())
    assert image["image"]["mime_type"] == "image/png"
    described = graph_get(sim, image["image"]["id"]).json()
    assert graph_get(sim, described["url"]).content == photo.read_bytes()
    assert voice["type"] == "audio"
    assert voice["audio"]["voice"] is True


def test_play_user_stopping_and_resuming_marketing_messages(
    start: Callable[..., GraphApiSimulator], receiver: Receiver
) -> None:
    sim = start(clock=FakeClock(1_763_703_000.0))
    stop = requests.post(
        f"{sim.url}/_simulator/user_preferences",
        json={"wa_id": "+1 650-555-1234", "value": "stop", "name": "Kerry Fisher"},
        timeout=5,
    )
    assert stop.status_code == 200, stop.text
    assert stop.json()["delivered"] is True
    resume = requests.post(
        f"{sim.url}/_simulator/user_preferences",
        json={"user_id": "US.13491208655302741918", "value": "resume", "timestamp": 1763703600},
        timeout=5,
    )
    assert resume.status_code == 200, resume.text
    first, second = (item.payload for item in receiver.snapshot())
    # Meta's user_preferences webhook, as its reference shows it.
    assert first["entry"][0]["changes"][0]["field"] == "user_preferences"
    assert first["entry"][0]["changes"][0]["value"] == {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": sim.config.display_phone_number, "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "16505551234"}],
        "user_preferences": [
            {
                "wa_id": "16505551234",
                "detail": "User requested to stop marketing messages",
                "category": "marketing_messages",
                "value": "stop",
                "timestamp": 1763703000,
            }
        ],
    }
    # What the processor's models read of them: who, and stopped or resumed.
    read = [
        read_preferences(payload["entry"][0]["changes"][0]["value"], "value").preferences[0]
        for payload in (first, second)
    ]
    assert [(preference_contact(p), p.marketing_stopped, p.timestamp) for p in read] == [
        ("16505551234", True, 1763703000),
        ("US.13491208655302741918", False, 1763703600),
    ]
    # Nothing was sent to or by the business: the listing of messages is unchanged.
    assert sim.snapshot()["messages"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"value": "stop"},
        {"wa_id": "not a number", "value": "stop"},
        {"wa_id": "16505551234", "value": "snooze"},
        {"wa_id": "16505551234"},
        {"wa_id": "16505551234", "value": "stop", "timestamp": "yesterday"},
        {"wa_id": "16505551234", "value": "stop", "user_id": 7},
        ["not", "an", "object"],
    ],
)
def test_user_preferences_refuses_what_meta_would_never_send(
    sim: GraphApiSimulator, receiver: Receiver, body: Any
) -> None:
    answer = requests.post(f"{sim.url}/_simulator/user_preferences", json=body, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"]
    assert receiver.snapshot() == []
    assert requests.get(f"{sim.url}/_simulator/user_preferences", timeout=5).status_code == 405
