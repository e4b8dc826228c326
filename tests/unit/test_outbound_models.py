"""The sender's input contract: example requests, Graph API bodies, validation and Meta's error classes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.paths import REPO
from support.sender_examples import EXPECTED, TO, WAMID, message
from wacloud.meta.error_codes import Remedy, classify, is_retryable, pair_limit_delay
from wacloud.meta.identifiers import BUSINESS_SCOPED_ID_RULE
from wacloud.meta.outbound import (
    MAX_BATCH_SIZE,
    InteractiveMessage,
    MarkAsRead,
    Problem,
    SendError,
    SendRequestError,
    TemplateMessage,
    TextMessage,
    parse_send_request,
)
from wacloud.meta.schema import render, send_request_schema
from wacloud.meta.summary import outbound_text

ROOT = REPO
EXAMPLES = ROOT / "events" / "sender"
SCHEMA_FILE = ROOT / "docs" / "sender-contract.schema.json"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def text(**fields: Any) -> dict[str, Any]:
    return {"to": TO, "type": "text", "text": {"body": "hi"}, **fields}


def interactive_buttons(*titles: str) -> dict[str, Any]:
    buttons = [{"type": "reply", "reply": {"id": f"b{i}", "title": title}} for i, title in enumerate(titles)]
    return {
        "to": TO,
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": "Pick one"}, "action": {"buttons": buttons}},
    }


def list_of(*sections: dict[str, Any]) -> dict[str, Any]:
    return {
        "to": TO,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Pick one"},
            "action": {"button": "Open", "sections": list(sections)},
        },
    }


def interactive(kind: str, **content: Any) -> dict[str, Any]:
    return {"to": TO, "type": "interactive", "interactive": {"type": kind, **content}}


def flow(**parameters: Any) -> dict[str, Any]:
    """A flow message; ``parameters`` change Meta's action parameters (None removes one)."""
    merged = {"flow_id": "1197715005513101", "flow_cta": "Book now", **parameters}
    return interactive(
        "flow",
        body={"text": "Book a table"},
        action={"name": "flow", "parameters": {k: v for k, v in merged.items() if v is not None}},
    )


def products(count: int, prefix: str = "p") -> list[dict[str, str]]:
    return [{"product_retailer_id": f"{prefix}{i}"} for i in range(count)]


def product_list(*sections: Any, **content: Any) -> dict[str, Any]:
    """A multi-product message; a section given as a list of items is untitled."""
    merged = {"header": {"type": "text", "text": "New in"}, "body": {"text": "Have a look"}, **content}
    action = {
        "catalog_id": "194836987003835",
        "sections": [{"product_items": s} if isinstance(s, list) else s for s in sections],
    }
    return interactive("product_list", **{k: v for k, v in merged.items() if v is not None}, action=action)


def card(
    index: int, *, header: str = "image", buttons: bool = True, extra_buttons: int = 0
) -> dict[str, Any]:
    components: list[dict[str, Any]] = [
        {"type": "header", "parameters": [{"type": header, header: {"id": f"10{index}"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": f"${index}9"}]},
    ]
    if buttons:
        components += [
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": i,
                "parameters": [{"type": "payload", "payload": "x"}],
            }
            for i in range(1 + extra_buttons)
        ]
        components.append(
            {"type": "button", "sub_type": "url", "index": 1, "parameters": [{"type": "text", "text": "y"}]}
        )
    return {"card_index": index, "components": components}


def carousel(*decks: list[dict[str, Any]]) -> dict[str, Any]:
    components = [{"type": "carousel", "cards": cards} for cards in decks]
    return {
        "to": TO,
        "type": "template",
        "template": {"name": "offers", "language": {"code": "en"}, "components": components},
    }


def rows(count: int, prefix: str = "r") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i}", "title": f"Row {i}"} for i in range(count)]


def test_every_example_is_covered() -> None:
    assert {path.stem for path in EXAMPLES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_becomes_exact_graph_body(name: str) -> None:
    assert [item.to_graph_body() for item in parse_send_request(load(name))] == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_matches_committed_schema(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(load(name))


def test_committed_schema_is_fresh() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "docs/sender-contract.schema.json is stale: "
        "run python -m wacloud.meta.schema > docs/sender-contract.schema.json"
    )
    assert send_request_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_items_know_whether_they_need_the_24_hour_window() -> None:
    items = {item.kind: item for name in EXPECTED for item in parse_send_request(load(name))}
    assert {kind for kind, item in items.items() if item.requires_open_window} == {
        "text",
        "image",
        "document",
        "video",
        "audio",
        "sticker",
        "interactive",
        "location",
        "contacts",
        "reaction",
    }
    assert {kind for kind, item in items.items() if item.is_template} == {"template"}
    interactive_kinds = {
        item.interactive.type
        for name in EXPECTED
        for item in parse_send_request(load(name))
        if isinstance(item, InteractiveMessage)
    }
    assert interactive_kinds == {
        "button",
        "list",
        "cta_url",
        "location_request_message",
        "flow",
        "product",
        "product_list",
    }
    [carousel] = parse_send_request(load("template_carousel"))
    assert (carousel.requires_open_window, carousel.is_template) == (False, True)
    assert isinstance(items["template"], TemplateMessage)
    assert isinstance(items["mark_as_read"], MarkAsRead)
    assert items["mark_as_read"].addressee is None
    assert items["text"].addressee == TO


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("interactive_buttons", "When should we deliver order #1042?"),
        (
            "interactive_location_request",
            "Where should we deliver order #1042? Tap the button to share your location.",
        ),
        ("interactive_flow", "Pick a day and a time, and we keep a table for you."),
        ("interactive_product_list", "Our new arrivals, picked for you."),
        ("template_carousel", "[template seasonal_offers]"),
    ],
)
def test_a_sent_message_is_listed_with_its_text(name: str, shown: str) -> None:
    [body] = EXPECTED[name]
    assert outbound_text(body) == shown


def test_a_product_without_body_is_listed_by_its_sku() -> None:
    [item] = parse_send_request(
        {
            "to": TO,
            "type": "interactive",
            "interactive": {
                "type": "product",
                "action": {"catalog_id": "1", "product_retailer_id": "lamp-oak-01"},
            },
        }
    )
    assert outbound_text(item.to_graph_body()) == "[product lamp-oak-01]"


def test_idempotency_key_is_kept_but_never_sent() -> None:
    items = parse_send_request(load("batch"))
    assert [item.idempotency_key for item in items] == [
        "reminder-2027-03-14-16505551234",
        "reminder-2027-03-14-16505551234-map",
        f"read-{WAMID}",
    ]
    assert all("idempotency_key" not in item.to_graph_body() for item in items)


def test_optional_meta_fields_pass_through_and_plus_is_stripped() -> None:
    [item] = parse_send_request(
        text(to="+16505551234", messaging_product="whatsapp", recipient_type="individual")
    )
    assert isinstance(item, TextMessage)
    assert item.to_graph_body() == message("text", {"body": "hi"})


def test_template_accepts_named_parameters_and_policy() -> None:
    [item] = parse_send_request(
        {
            "to": TO,
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "pt_BR", "policy": "deterministic"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "parameter_name": "name", "text": "Ana"}],
                    }
                ],
            },
        }
    )
    assert item.to_graph_body()["template"] == {
        "name": "order_update",
        "language": {"code": "pt_BR", "policy": "deterministic"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "parameter_name": "name", "text": "Ana"}]}
        ],
    }


def test_empty_emoji_removes_a_reaction() -> None:
    event = {"to": TO, "type": "reaction", "reaction": {"message_id": WAMID, "emoji": ""}}
    [item] = parse_send_request(event)
    assert item.to_graph_body() == message("reaction", {"message_id": WAMID, "emoji": ""})


E164 = "must be 8 to 15 digits (E.164 without '+')"


@pytest.mark.parametrize(
    ("event", "problems"),
    [
        pytest.param(text(to="6505551"), [("to", E164)], id="to-too-short"),
        pytest.param(text(to="1650555123456789"), [("to", E164)], id="to-too-long"),
        pytest.param(text(to="+1 650 555 1234"), [("to", E164)], id="to-with-spaces"),
        pytest.param(text(to=16505551234), [("to", E164)], id="to-not-a-string"),
        pytest.param(
            text(to="0016505551234"), [("to", "must start with the country code, not 0")], id="to-0"
        ),
        pytest.param(
            {"type": "text", "text": {"body": "hi"}},
            [("to", "required: a phone number (or 'recipient': a business-scoped user id)")],
            id="to-missing",
        ),
        pytest.param(
            {"recipient": "12345", "type": "text", "text": {"body": "hi"}},
            [("recipient", BUSINESS_SCOPED_ID_RULE)],
            id="recipient-not-a-bsuid",
        ),
        pytest.param(
            {"to": TO, "phone_number_id": "my-number", "type": "text", "text": {"body": "hi"}},
            [("phone_number_id", "must be a business phone number id (5 to 20 digits)")],
            id="phone-number-id-not-numeric",
        ),
        pytest.param({"to": TO, "type": "text", "text": {}}, [("text.body", "required")], id="text-no-body"),
        pytest.param(text(text={"body": ""}), [("text.body", "must not be empty")], id="text-empty-body"),
        pytest.param(
            {"to": TO, "type": "image", "image": {"link": "https://example.com/a.jpg", "id": "123"}},
            [("image", "set exactly one of 'link', 'id' or 's3_uri'")],
            id="image-link-and-id",
        ),
        pytest.param(
            {"to": TO, "type": "audio", "audio": {}},
            [("audio", "set exactly one of 'link', 'id' or 's3_uri'")],
            id="audio-no-source",
        ),
        pytest.param(
            {"to": TO, "type": "image", "image": {"link": "ftp://example.com/a.jpg"}},
            [("image.link", "must be an http(s) URL")],
            id="image-not-http",
        ),
        pytest.param(
            {"to": TO, "type": "audio", "audio": {"id": "1", "caption": "no"}},
            [("audio.caption", "unknown field")],
            id="audio-caption",
        ),
        pytest.param(
            interactive_buttons("A", "B", "C", "D"),
            [("interactive.action.buttons", "must hold at most 3 items (got 4)")],
            id="four-reply-buttons",
        ),
        pytest.param(
            interactive_buttons("OK", "x" * 21),
            [("interactive.action.buttons[1].reply.title", "must be at most 20 characters")],
            id="button-title-too-long",
        ),
        pytest.param(
            interactive_buttons("Same", "Same"),
            [("interactive.action.buttons", "button titles must be unique")],
            id="button-titles-repeat",
        ),
        pytest.param(
            list_of({"rows": rows(6, "a")}, {"title": "More", "rows": rows(5, "b")}),
            [("interactive.action.sections", "must hold at most 10 rows in all (got 11)")],
            id="list-eleven-rows",
        ),
        pytest.param(
            list_of({"rows": rows(1, "a")}, {"title": "More", "rows": rows(1, "b")}),
            [("interactive.action.sections", "each section needs a title when there are several")],
            id="list-untitled-section",
        ),
        pytest.param(
            list_of({"title": "x" * 25, "rows": [{"id": "r", "title": "y" * 25}]}),
            [
                ("interactive.action.sections[0].title", "must be at most 24 characters"),
                ("interactive.action.sections[0].rows[0].title", "must be at most 24 characters"),
            ],
            id="list-titles-too-long",
        ),
        pytest.param(
            text(messaging_product="sms"),
            [("messaging_product", "must be 'whatsapp'")],
            id="messaging-product",
        ),
        pytest.param(
            text(recipient_type="group"), [("recipient_type", "must be 'individual'")], id="recipient-type"
        ),
        pytest.param(text(txet="typo"), [("txet", "unknown field")], id="unknown-field"),
        pytest.param(
            {"to": TO, "type": "carousel"},
            [
                (
                    "type",
                    "must be one of 'text', 'image', 'video', 'audio', 'document', 'sticker', 'template', "
                    "'interactive', 'location', 'contacts', 'reaction' "
                    "(or no type and status 'read' to mark a message as read)",
                )
            ],
            id="unknown-type",
        ),
        pytest.param(
            {"to": TO, "type": "interactive", "interactive": {"type": "voice_call"}},
            [
                (
                    "interactive.type",
                    "must be one of 'button', 'list', 'cta_url', 'location_request_message', 'flow', "
                    "'product', 'product_list'",
                )
            ],
            id="unknown-interactive-type",
        ),
        pytest.param(
            interactive("location_request_message", body={"text": "x" * 1025}, action={"name": "send_place"}),
            [
                ("interactive.body.text", "must be at most 1024 characters"),
                ("interactive.action.name", "must be 'send_location'"),
            ],
            id="location-request-limits",
        ),
        pytest.param(
            interactive(
                "location_request_message",
                header={"type": "text", "text": "Where?"},
                body={"text": "Share your location"},
                action={"name": "send_location"},
            ),
            [("interactive.header", "unknown field")],
            id="location-request-header",
        ),
        pytest.param(
            interactive("location_request_message", action={"name": "send_location"}),
            [("interactive.body", "required")],
            id="location-request-no-body",
        ),
        pytest.param(
            flow(flow_name="booking"),
            [("interactive.action.parameters", "set exactly one of 'flow_id' or 'flow_name'")],
            id="flow-id-and-name",
        ),
        pytest.param(
            flow(flow_id=None),
            [("interactive.action.parameters", "set exactly one of 'flow_id' or 'flow_name'")],
            id="flow-no-id",
        ),
        pytest.param(
            flow(flow_cta="x" * 31, mode="live", flow_message_version="2", flow_token=""),
            [
                ("interactive.action.parameters.flow_message_version", "must be '3'"),
                ("interactive.action.parameters.flow_cta", "must be at most 30 characters"),
                ("interactive.action.parameters.mode", "must be 'draft' or 'published'"),
                ("interactive.action.parameters.flow_token", "must not be empty"),
            ],
            id="flow-parameters",
        ),
        pytest.param(
            flow(flow_action="data_exchange", flow_action_payload={"screen": "START"}),
            [("interactive.action.parameters", "flow_action_payload goes only with flow_action 'navigate'")],
            id="flow-data-exchange-with-payload",
        ),
        pytest.param(
            flow(flow_action="open", flow_action_payload={"data": {}}),
            [
                ("interactive.action.parameters.flow_action", "must be 'navigate' or 'data_exchange'"),
                ("interactive.action.parameters.flow_action_payload.screen", "required"),
                ("interactive.action.parameters.flow_action_payload.data", "must hold at least 1 item(s)"),
            ],
            id="flow-payload",
        ),
        pytest.param(
            interactive("product", header={"type": "text", "text": "Lamp"}, action={"catalog_id": "1"}),
            [
                ("interactive.action.product_retailer_id", "required"),
                ("interactive.header", "unknown field"),
            ],
            id="product-header-and-no-sku",
        ),
        pytest.param(
            product_list(products(6, "a"), products(5, "b"), header=None, body=None),
            [
                ("interactive.header", "required"),
                ("interactive.body", "required"),
                ("interactive.action.sections", "each section needs a title when there are several"),
            ],
            id="product-list-header-body-titles",
        ),
        pytest.param(
            product_list(
                {"title": "A", "product_items": products(20, "a")},
                {"title": "B", "product_items": products(11, "b")},
            ),
            [("interactive.action.sections", "must hold at most 30 products in all (got 31)")],
            id="product-list-31-products",
        ),
        pytest.param(
            product_list(*({"title": f"S{i}", "product_items": products(1, f"s{i}")} for i in range(11))),
            [("interactive.action.sections", "must hold at most 10 items (got 11)")],
            id="product-list-11-sections",
        ),
        pytest.param(
            product_list(
                {"title": "x" * 25, "product_items": []}, header={"type": "image", "image": {"id": "1"}}
            ),
            [
                ("interactive.header.type", "must be 'text'"),
                ("interactive.header.text", "required"),
                ("interactive.header.image", "unknown field"),
                ("interactive.action.sections[0].title", "must be at most 24 characters"),
                ("interactive.action.sections[0].product_items", "must hold at least 1 item(s)"),
            ],
            id="product-list-limits",
        ),
        pytest.param(
            carousel([card(0)]),
            [("template.components[0].cards", "must hold at least 2 item(s)")],
            id="carousel-one-card",
        ),
        pytest.param(
            carousel([card(0), card(2)]),
            [("template.components[0].cards", "card_index must number the cards 0 to 1, each once")],
            id="carousel-card-index-gap",
        ),
        pytest.param(
            carousel([card(0), card(1, buttons=False)]),
            [("template.components[0].cards", "every card must hold the same components")],
            id="carousel-cards-differ",
        ),
        pytest.param(
            carousel(
                [card(0, header="document"), {"card_index": 1, "components": card(1)["components"][1:]}]
            ),
            [
                (
                    "template.components[0].cards[0].components[0].parameters[0].type",
                    "must be one of 'image', 'video'",
                ),
                (
                    "template.components[0].cards[1].components",
                    "a card needs exactly one header (its image or video)",
                ),
            ],
            id="carousel-card-headers",
        ),
        pytest.param(
            carousel([card(0, extra_buttons=1), card(1, extra_buttons=1)]),
            [
                ("template.components[0].cards[0].components", "a card has at most 2 buttons"),
                ("template.components[0].cards[1].components", "a card has at most 2 buttons"),
            ],
            id="carousel-three-buttons",
        ),
        pytest.param(
            carousel([card(0), card(1)], [card(0), card(1)]),
            [("template.components", "a template has at most one carousel")],
            id="two-carousels",
        ),
        pytest.param(
            {
                **carousel([card(0), card(1)]),
                "template": {
                    "name": "offers",
                    "language": {"code": "en"},
                    "components": [
                        {"type": "header", "parameters": [{"type": "text", "text": "Hi"}]},
                        {"type": "carousel", "cards": [card(0), card(1)]},
                    ],
                },
            },
            [
                (
                    "template.components",
                    "beside a carousel a template takes only a body: headers and buttons go in its cards",
                )
            ],
            id="carousel-with-top-level-header",
        ),
        pytest.param(
            {
                "to": TO,
                "type": "template",
                "template": {
                    "name": "order_receipt",
                    "language": {"code": "en_US"},
                    "components": [
                        {
                            "type": "body",
                            "parameters": [
                                {"type": "currency", "currency": {"fallback_value": "$1", "code": "usd"}}
                            ],
                        },
                        {
                            "type": "button",
                            "sub_type": "quick_reply",
                            "index": 10,
                            "parameters": [{"type": "text", "text": "x"}],
                        },
                    ],
                },
            },
            [
                (
                    "template.components[0].parameters[0].currency.code",
                    "must be an ISO 4217 currency code such as 'USD'",
                ),
                ("template.components[0].parameters[0].currency.amount_1000", "required"),
                ("template.components[1].index", "must be less than or equal to 9"),
                ("template.components[1].parameters", "a quick_reply button takes a 'payload' parameter"),
            ],
            id="template-parameters",
        ),
        pytest.param(
            {"to": TO, "type": "contacts", "contacts": [{"name": {"formatted_name": "Jane"}}]},
            [
                (
                    "contacts[0].name",
                    "needs first_name, last_name, middle_name, suffix or prefix besides formatted_name",
                )
            ],
            id="contact-name",
        ),
        pytest.param(
            {"to": TO, "type": "location", "location": {"latitude": 91, "longitude": 0}},
            [("location.latitude", "must be less than or equal to 90")],
            id="latitude",
        ),
        pytest.param(
            {
                "to": TO,
                "type": "reaction",
                "reaction": {"message_id": WAMID, "emoji": "x"},
                "context": {"message_id": WAMID},
            },
            [("context", "not allowed for a reaction: it names its message in reaction.message_id")],
            id="reaction-reply",
        ),
        pytest.param(
            {"status": "read", "message_id": WAMID, "to": TO},
            [("to", "unknown field")],
            id="mark-as-read-with-to",
        ),
        pytest.param({"messages": []}, [("messages", "must hold at least 1 item(s)")], id="empty-batch"),
        pytest.param(
            {"messages": [text()] * (MAX_BATCH_SIZE + 1)},
            [("messages", f"must hold at most {MAX_BATCH_SIZE} items (got {MAX_BATCH_SIZE + 1})")],
            id="batch-too-big",
        ),
        pytest.param(
            {"messages": [text(idempotency_key="k"), text(idempotency_key="k")]},
            [("messages", "idempotency keys must be unique")],
            id="batch-repeated-key",
        ),
        pytest.param(
            {"messages": [text(), text(to="123"), "hello", text(text={"body": "x", "preview_url": "maybe"})]},
            [
                ("messages[1].to", E164),
                ("messages[2]", "must be a JSON object"),
                ("messages[3].text.preview_url", "must be a valid boolean, unable to interpret input"),
            ],
            id="batch-item-paths",
        ),
        pytest.param([text()], [("", "must be a JSON object")], id="not-an-object"),
    ],
)
def test_invalid_requests_name_field_and_rule(event: Any, problems: list[tuple[str, str]]) -> None:
    with pytest.raises(SendRequestError) as caught:
        parse_send_request(event)
    assert caught.value.problems == [Problem(loc, msg) for loc, msg in problems]


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(SendRequestError, match=r"^invalid send request: ") as caught:
        parse_send_request({"messages": [text(), text(to="12")]})
    assert str(caught.value) == f"invalid send request: messages[1].to: {E164}"


# Meta's remedies as FACTS.md lists them.
BACKOFF = [1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057]
FIX_THE_CAUSE = [
    *(0, 3, 10, 200, 100, 131008, 131009, 131021, 131026, 131031, 131042, 131045, 131047),
    *(131051, 131052, 131053, 130403, 130497, 132000, 132001, 132012, 132015, 132016, 368, 131048),
]


@pytest.mark.parametrize(
    ("code", "remedy"),
    [
        *((code, Remedy.RETRY_WITH_BACKOFF) for code in BACKOFF),
        (131049, Remedy.RETRY_AFTER_24H),
        (190, Remedy.REFRESH_TOKEN),
        (131050, Remedy.OPT_OUT),
        *((code, Remedy.DO_NOT_RETRY) for code in FIX_THE_CAUSE),
    ],
)
def test_meta_error_classes(code: int, remedy: Remedy) -> None:
    assert classify(code) is remedy
    assert is_retryable(code) is (remedy in (Remedy.RETRY_WITH_BACKOFF, Remedy.RETRY_AFTER_24H))


@pytest.mark.parametrize("code", [-1, 5, 131999, 999999])
def test_unknown_codes_are_not_retried(code: int) -> None:
    assert classify(code) is Remedy.DO_NOT_RETRY
    assert not is_retryable(code)


def test_pair_limit_delay_follows_metas_four_to_the_x() -> None:
    assert [pair_limit_delay(attempt) for attempt in range(5)] == [1, 4, 16, 64, 256]
    assert pair_limit_delay(6, cap_seconds=900) == 900
    with pytest.raises(ValueError, match="attempt"):
        pair_limit_delay(-1)


def test_send_error_from_graph_error_answer() -> None:
    error = {
        "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "type": "OAuthException",
        "code": 131056,
        "error_data": {"messaging_product": "whatsapp", "details": "Too many messages sent to this user"},
        "fbtrace_id": "AazS5cC2x8mXkPj0oZrR3bF",
    }
    assert SendError.from_graph(error) == SendError(
        code=131056,
        title=None,
        message="(#131056) (Business Account, Consumer Account) pair rate limit hit",
        details="Too many messages sent to this user",
        retryable=True,
    )
    webhook_error = {
        "code": 131050,
        "title": "Unable to deliver the message",
        "message": "User stopped marketing",
    }
    parsed = SendError.from_graph(webhook_error)
    assert (parsed.code, parsed.title, parsed.retryable) == (131050, "Unable to deliver the message", False)
    assert SendError.from_graph({}).code == -1
