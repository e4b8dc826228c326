"""The newer send types through the sender's real entry point against the Graph API simulator:
location requests, Flows, single- and multi-product messages and media card carousel templates
are accepted by the simulator as Meta would accept them and recorded; bad ones are refused with
the field named before anything is sent; the 24-hour window applies to the interactive ones only."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.sender_events import TO, sender_to, simulated_meta, sqs_event, store
from support.sender_examples import EXPECTED
from wacloud.meta.summary import outbound_text
from walocal.events import load_event
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.simulator import GraphApiSimulator

STRANGER = "16505550199"  # never wrote: no 24-hour window
NEW_TYPES = [
    "interactive_location_request",
    "interactive_flow",
    "interactive_product",
    "interactive_product_list",
    "template_carousel",
]


@pytest.fixture
def simulator() -> Iterator[GraphApiSimulator]:
    with simulated_meta() as running:
        yield running


@pytest.fixture
def sender(
    load_function: Callable[..., LocalFunction], simulator: GraphApiSimulator, stack: LocalStack
) -> LocalFunction:
    return sender_to(load_function, simulator, stack)


def received(simulator: GraphApiSimulator) -> list[dict[str, Any]]:
    return [message["body"] for message in simulator.snapshot()["messages"]]


@pytest.mark.parametrize("name", NEW_TYPES)
def test_each_new_type_is_accepted_by_the_simulator_and_recorded(
    name: str, sender: LocalFunction, simulator: GraphApiSimulator, stack: LocalStack
) -> None:
    request = load_event(f"sender/{name}.json")
    [result] = sender.invoke(request)["results"]
    assert result["status"] == "accepted", result
    assert received(simulator) == EXPECTED[name]
    record = store(stack).message(result["message_id"])
    assert record is not None
    assert (record["direction"], record["wa_id"], record["type"]) == ("outbound", TO, request["type"])
    assert json.loads(record["request"]) == EXPECTED[name][0]
    listed = {m["wamid"]: m for m in store(stack).conversation(TO)}
    assert listed[result["message_id"]]["text"] == outbound_text(EXPECTED[name][0])


def test_the_new_types_go_together_from_the_outbound_queue(
    sender: LocalFunction, simulator: GraphApiSimulator
) -> None:
    batch = {"messages": [load_event(f"sender/{name}.json") for name in NEW_TYPES]}
    assert sender.invoke(sqs_event(batch)) == {"batchItemFailures": []}
    assert received(simulator) == [body for name in NEW_TYPES for body in EXPECTED[name]]


def test_a_carousel_template_needs_no_window_but_a_location_request_does(
    sender: LocalFunction, simulator: GraphApiSimulator
) -> None:
    carousel = {**load_event("sender/template_carousel.json"), "to": STRANGER}
    request = {**load_event("sender/interactive_location_request.json"), "to": STRANGER}
    flow = {**load_event("sender/interactive_flow.json"), "to": STRANGER}
    results = sender.invoke({"messages": [carousel, request, flow]})["results"]
    assert [r["status"] for r in results] == ["accepted", "failed", "failed"]
    assert [r["error"]["code"] for r in results[1:]] == [131047, 131047]
    assert [body["type"] for body in received(simulator)] == ["template"]


def flow_with(**parameters: Any) -> dict[str, Any]:
    request: dict[str, Any] = load_event("sender/interactive_flow.json")
    request["interactive"]["action"]["parameters"].update(parameters)
    return request


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        pytest.param(
            flow_with(flow_name="table_booking"),
            {"field": "interactive.action.parameters", "rule": "set exactly one of 'flow_id' or 'flow_name'"},
            id="flow-id-and-name",
        ),
        pytest.param(
            flow_with(flow_action="data_exchange"),
            {
                "field": "interactive.action.parameters",
                "rule": "flow_action_payload goes only with flow_action 'navigate'",
            },
            id="flow-payload-with-data-exchange",
        ),
        pytest.param(
            {
                "to": TO,
                "type": "interactive",
                "interactive": {
                    "type": "product_list",
                    "header": {"type": "text", "text": "All of it"},
                    "body": {"text": "Everything we sell"},
                    "action": {
                        "catalog_id": "194836987003835",
                        "sections": [
                            {
                                "title": "A",
                                "product_items": [{"product_retailer_id": f"a{i}"} for i in range(16)],
                            },
                            {
                                "title": "B",
                                "product_items": [{"product_retailer_id": f"b{i}"} for i in range(15)],
                            },
                        ],
                    },
                },
            },
            {"field": "interactive.action.sections", "rule": "must hold at most 30 products in all (got 31)"},
            id="product-list-31",
        ),
        pytest.param(
            {
                "to": TO,
                "type": "interactive",
                "interactive": {
                    "type": "location_request_message",
                    "body": {"text": "Where are you?"},
                    "footer": {"text": "Example Shop"},
                    "action": {"name": "send_location"},
                },
            },
            {"field": "interactive.footer", "rule": "unknown field"},
            id="location-request-footer",
        ),
    ],
)
def test_bad_new_types_are_refused_naming_the_field_and_nothing_is_sent(
    sender: LocalFunction, simulator: GraphApiSimulator, request_: dict[str, Any], problem: dict[str, str]
) -> None:
    answer = sender.invoke(request_)
    assert answer["error"]["type"] == "InvalidRequest"
    assert problem in answer["error"]["problems"]
    assert received(simulator) == []


def test_a_carousel_with_a_card_missing_is_refused_naming_the_cards(
    sender: LocalFunction, simulator: GraphApiSimulator
) -> None:
    request = load_event("sender/template_carousel.json")
    del request["template"]["components"][1]["cards"][1]
    answer = sender.invoke(request)
    assert answer["error"]["problems"] == [
        {"field": "template.components[1].cards", "rule": "must hold at least 2 item(s)"}
    ]
    assert received(simulator) == []


def test_meta_refusing_a_carousel_comes_back_as_its_error(
    sender: LocalFunction, simulator: GraphApiSimulator
) -> None:
    # Valid for the contract, but the template's cards have images: the simulator answers as Meta.
    request = load_event("sender/template_carousel.json")
    for card in request["template"]["components"][1]["cards"]:
        card["components"][0]["parameters"] = [
            {"type": "video", "video": {"link": "https://example.com/v.mp4"}}
        ]
    [result] = sender.invoke(request)["results"]
    assert result["status"] == "failed"
    assert (result["error"]["code"], result["error"]["retryable"]) == (132012, False)
    assert "card 0 header" in result["error"]["details"]
