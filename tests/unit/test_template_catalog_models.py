"""Meta's template objects and template webhooks as the catalog reads them, and the simulator's
``message_templates`` listing (shape and paging)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from wacloud.meta.templates import (
    TEMPLATE_CATEGORY_FIELD,
    TEMPLATE_QUALITY_FIELD,
    TEMPLATE_STATUS_FIELD,
    TemplateDefinition,
    next_page,
    placeholders,
    template_change,
)
from walocal.simulator import SimulatorConfig, TemplateSpec
from walocal.simulator.errors import GraphError
from walocal.simulator.templates import listing


def test_a_listed_template_gives_what_a_send_must_fill_in() -> None:
    definition = TemplateDefinition.from_graph(
        {
            "name": "order_receipt",
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "id": 1146436730468214,
            "components": [
                {"type": "HEADER", "format": "IMAGE"},
                {"type": "BODY", "text": "Hi {{1}}, {{2}} paid on {{3}}. Thanks {{1}}!"},
                {"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://example.com/{{1}}"}]},
            ],
            "quality_score": {"score": "GREEN"},
        }
    )
    assert definition is not None
    assert (definition.body_params, definition.header_format, definition.header_params) == (3, "IMAGE", 1)
    assert (definition.template_id, definition.quality, definition.category) == (
        "1146436730468214",
        "GREEN",
        "UTILITY",
    )


def test_named_placeholders_and_text_headers_are_counted() -> None:
    assert placeholders("Hello {{first_name}}, your code is {{ code }}") == 2
    definition = TemplateDefinition.from_graph(
        {
            "name": "n",
            "language": "en",
            "status": "paused",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
                {"type": "BODY", "text": "Hi"},
            ],
        }
    )
    assert definition is not None
    assert (definition.status, definition.header_params, definition.body_params) == ("PAUSED", 1, 0)


@pytest.mark.parametrize(
    "data", [{}, {"name": "x"}, {"name": "", "language": "en"}, {"name": 3, "language": "en"}]
)
def test_an_object_without_name_and_language_is_skipped(data: dict[str, object]) -> None:
    assert TemplateDefinition.from_graph(data) is None


def test_template_webhooks_become_changes() -> None:
    named = {
        "message_template_name": "spring_sale",
        "message_template_language": "en_US",
        "message_template_id": 42,
    }
    status = template_change(TEMPLATE_STATUS_FIELD, {**named, "event": "PAUSED", "reason": "NONE"})
    quality = template_change(TEMPLATE_QUALITY_FIELD, {**named, "new_quality_score": "RED"})
    category = template_change(TEMPLATE_CATEGORY_FIELD, {**named, "new_category": "MARKETING"})
    assert status is not None
    assert (status.status, status.template_id) == ("PAUSED", "42")
    assert quality is not None
    assert quality.quality == "RED"
    assert category is not None
    assert category.category == "MARKETING"
    assert template_change("account_update", {**named, "event": "PAUSED"}) is None
    assert template_change(TEMPLATE_STATUS_FIELD, {"event": "PAUSED"}) is None
    assert template_change(TEMPLATE_STATUS_FIELD, "not an object") is None


def test_the_simulator_lists_its_templates_in_pages() -> None:
    config = SimulatorConfig(
        templates={f"t{n:02d}": {"en_US": TemplateSpec(body_params=2)} for n in range(30)}
    )
    url = "http://127.0.0.1:3002/v24.0/102290129340398/message_templates"
    first = listing(config, {"limit": ["25"], "fields": ["name,status"]}, url)
    assert len(first["data"]) == 25
    following = next_page(first)
    assert following is not None
    query = parse_qs(urlparse(following).query)
    assert query["fields"] == ["name,status"]
    second = listing(config, query, url)
    assert [t["name"] for t in second["data"]] == [f"t{n}" for n in range(25, 30)]
    assert next_page(second) is None
    template = first["data"][0]
    assert set(template) == {"name", "language", "status", "category", "components", "id"}
    assert TemplateDefinition.from_graph(template) == TemplateDefinition(
        name="t00",
        language="en_US",
        status="APPROVED",
        category="UTILITY",
        template_id=template["id"],
        body_params=2,
    )
    with pytest.raises(GraphError):
        listing(config, {"limit": ["0"]}, url)
