"""The Graph API simulator's checks of the newer send types, as Meta makes them: location requests,
Flows, single- and multi-product messages and media card carousel templates."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.sender_events import simulated_meta
from support.sender_examples import EXPECTED
from walocal.simulator import GraphApiSimulator, SimulatorConfig, TemplateSpec

TOKEN = "sim-token"
PHONE_ID = "123456789012345"
USER = "16505551234"
NEW_TYPES = [
    "interactive_location_request",
    "interactive_flow",
    "interactive_product",
    "interactive_product_list",
    "template_carousel",
]


@pytest.fixture
def sim() -> Iterator[GraphApiSimulator]:
    with simulated_meta(USER, access_token=TOKEN, phone_number_id=PHONE_ID) as running:
        yield running


def send(simulator: GraphApiSimulator, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{simulator.url}/v24.0/{PHONE_ID}/messages",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )


def example(name: str) -> dict[str, Any]:
    [body] = copy.deepcopy(EXPECTED[name])
    return body


def refusal(simulator: GraphApiSimulator, body: dict[str, Any]) -> dict[str, Any]:
    response = send(simulator, body)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.mark.parametrize("name", NEW_TYPES)
def test_each_new_type_is_accepted(sim: GraphApiSimulator, name: str) -> None:
    response = send(sim, example(name))
    assert response.status_code == 200, response.text
    assert response.json()["messages"][0]["id"].startswith("wamid.")
    [stored] = sim.snapshot()["messages"]
    assert stored["body"] == example(name)


def interactive_of(body: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = body["interactive"]
    return content


def _location_with_header(body: dict[str, Any]) -> None:
    interactive_of(body)["header"] = {"type": "text", "text": "Where?"}


def _location_wrong_action(body: dict[str, Any]) -> None:
    interactive_of(body)["action"] = {"name": "send_place"}


def _location_long_body(body: dict[str, Any]) -> None:
    interactive_of(body)["body"]["text"] = "x" * 1025


def _flow_id_and_name(body: dict[str, Any]) -> None:
    interactive_of(body)["action"]["parameters"]["flow_name"] = "booking"


def _flow_version(body: dict[str, Any]) -> None:
    interactive_of(body)["action"]["parameters"]["flow_message_version"] = "2"


def _flow_long_cta(body: dict[str, Any]) -> None:
    interactive_of(body)["action"]["parameters"]["flow_cta"] = "x" * 31


def _flow_payload_with_data_exchange(body: dict[str, Any]) -> None:
    interactive_of(body)["action"]["parameters"]["flow_action"] = "data_exchange"


def _flow_empty_data(body: dict[str, Any]) -> None:
    interactive_of(body)["action"]["parameters"]["flow_action_payload"]["data"] = {}


def _product_no_sku(body: dict[str, Any]) -> None:
    del interactive_of(body)["action"]["product_retailer_id"]


def _product_list_no_header(body: dict[str, Any]) -> None:
    del interactive_of(body)["header"]


def _product_list_no_body(body: dict[str, Any]) -> None:
    del interactive_of(body)["body"]


def _product_list_31(body: dict[str, Any]) -> None:
    items = [{"product_retailer_id": f"p{i}"} for i in range(29)]
    interactive_of(body)["action"]["sections"][1]["product_items"] = items


def _product_list_untitled(body: dict[str, Any]) -> None:
    del interactive_of(body)["action"]["sections"][1]["title"]


@pytest.mark.parametrize(
    ("name", "change", "parameter"),
    [
        ("interactive_location_request", _location_with_header, "interactive['header']"),
        ("interactive_location_request", _location_wrong_action, "interactive['action']['name']"),
        ("interactive_location_request", _location_long_body, "interactive['body']['text']"),
        ("interactive_flow", _flow_id_and_name, "['flow_id']"),
        ("interactive_flow", _flow_version, "['flow_message_version']"),
        ("interactive_flow", _flow_long_cta, "['flow_cta']"),
        ("interactive_flow", _flow_payload_with_data_exchange, "['flow_action_payload']"),
        ("interactive_flow", _flow_empty_data, "['flow_action_payload']['data']"),
        ("interactive_product", _product_no_sku, "interactive['action']['product_retailer_id']"),
        ("interactive_product_list", _product_list_no_header, "interactive['header']"),
        ("interactive_product_list", _product_list_no_body, "interactive['body']"),
        ("interactive_product_list", _product_list_31, "interactive['action']['sections']"),
        ("interactive_product_list", _product_list_untitled, "['sections'][1]['title']"),
    ],
)
def test_bad_new_types_are_100_naming_the_parameter(
    sim: GraphApiSimulator, name: str, change: Any, parameter: str
) -> None:
    body = example(name)
    change(body)
    error = refusal(sim, body)
    assert error["code"] == 100
    assert parameter in error["message"]
    assert sim.snapshot()["messages"] == []


def carousel_body(cards: list[dict[str, Any]]) -> dict[str, Any]:
    body = example("template_carousel")
    body["template"]["components"][1]["cards"] = cards
    return body


def test_carousel_must_send_every_card_of_the_template(sim: GraphApiSimulator) -> None:
    cards = example("template_carousel")["template"]["components"][1]["cards"]
    error = refusal(sim, carousel_body(cards[:1]))
    assert error["code"] == 132000
    assert "number of cards (1)" in error["error_data"]["details"]
    without = example("template_carousel")
    del without["template"]["components"][1]
    assert refusal(sim, without)["code"] == 132000


def test_carousel_cards_are_checked_against_the_template(sim: GraphApiSimulator) -> None:
    cards = example("template_carousel")["template"]["components"][1]["cards"]
    video = copy.deepcopy(cards)
    video[1]["components"][0]["parameters"] = [
        {"type": "video", "video": {"link": "https://example.com/v.mp4"}}
    ]
    error = refusal(sim, carousel_body(video))
    assert (error["code"], error["error_data"]["details"]) == (
        132012,
        "card 1 header: Format mismatch, expected IMAGE, received VIDEO",
    )
    no_price = copy.deepcopy(cards)
    del no_price[0]["components"][1]
    error = refusal(sim, carousel_body(no_price))
    assert error["code"] == 132000
    assert error["error_data"]["details"].startswith("card 0 body:")
    twice = copy.deepcopy(cards)
    twice[1]["card_index"] = 0
    assert "card_index" in refusal(sim, carousel_body(twice))["message"]


def test_carousel_templates_are_configurable(sim: GraphApiSimulator) -> None:
    spec = SimulatorConfig.from_env(
        {
            "SIMULATOR_TEMPLATES": '{"offers": {"en": {"cards": 3, "card_header": "video", '
            '"card_body_params": 0, "category": "marketing"}}}'
        }
    ).template("offers", "en")
    assert spec == TemplateSpec(cards=3, card_header="video", category="marketing")
    with pytest.raises(ValueError, match="2 to 10 cards"):
        TemplateSpec(cards=11)


def test_a_template_needs_no_open_window_but_a_flow_does(sim: GraphApiSimulator) -> None:
    stranger = "16505550199"
    carousel = {**example("template_carousel"), "to": stranger}
    flow = {**example("interactive_flow"), "to": stranger}
    assert send(sim, carousel).status_code == 200
    assert send(sim, flow).status_code == 200  # accepted, then failed by a status webhook
    assert [m["body"]["type"] for m in sim.snapshot()["messages"]] == ["template", "interactive"]
